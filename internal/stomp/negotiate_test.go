package stomp

import (
	"testing"
	"time"
)

func TestNegotiateVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Version
		err  error
	}{
		{"", V10, nil}, // no accept-version: a 1.0 client
		{"1.0", V10, nil},
		{"1.1", V11, nil},
		{"1.2", V12, nil},
		{"1.0,1.1,1.2", V12, nil},
		{"1.2,1.0", V12, nil},
		{"1.0,1.1,2.0", V11, nil},
		{"1.1, 1.2 ", V12, nil},
		{"2.0,1.0", V10, nil},
		{",,1.1,", V11, nil},
		{"2.0", 0, ErrNoCommonVersion},
		{"1.3,2.1", 0, ErrNoCommonVersion},
		{"12", 0, ErrNoCommonVersion},
		{",", 0, ErrNoCommonVersion},
		{"1.2.0", 0, ErrNoCommonVersion},
	} {
		got, err := NegotiateVersion([]byte(c.in))
		if got != c.want || err != c.err {
			t.Errorf("NegotiateVersion(%q) = %v, %v; want %v, %v", c.in, got, err, c.want, c.err)
		}
	}
	if v, err := NegotiateVersion(nil); v != V10 || err != nil {
		t.Errorf("nil: %v %v", v, err)
	}
	for v, s := range map[Version]string{V10: "1.0", V11: "1.1", V12: "1.2", 0: "invalid", 9: "invalid"} {
		if v.String() != s {
			t.Errorf("Version(%d) = %q", v, v.String())
		}
	}
}

func TestHeartBeat(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		in   string
		want HeartBeat
		err  error
	}{
		{"", HeartBeat{}, nil},
		{"0,0", HeartBeat{}, nil},
		{"10000,10000", HeartBeat{10000 * ms, 10000 * ms}, nil},
		{"0,1000", HeartBeat{0, 1000 * ms}, nil},
		{"007,3", HeartBeat{7 * ms, 3 * ms}, nil},
		{"2147483647,0", HeartBeat{2147483647 * ms, 0}, nil},
		{"2147483648,0", HeartBeat{}, ErrBadHeartBeat},
		{"99999999999,0", HeartBeat{}, ErrBadHeartBeat},
		{"1000", HeartBeat{}, ErrBadHeartBeat},
		{"1000,", HeartBeat{}, ErrBadHeartBeat},
		{",1000", HeartBeat{}, ErrBadHeartBeat},
		{"1, 2", HeartBeat{}, ErrBadHeartBeat},
		{"-1,0", HeartBeat{}, ErrBadHeartBeat},
		{"1,2,3", HeartBeat{}, ErrBadHeartBeat},
		{"a,b", HeartBeat{}, ErrBadHeartBeat},
	} {
		got, err := ParseHeartBeat([]byte(c.in))
		if got != c.want || err != c.err {
			t.Errorf("ParseHeartBeat(%q) = %v, %v; want %v, %v", c.in, got, err, c.want, c.err)
		}
		if err == nil && c.in != "" && c.in != "007,3" && got.String() != c.in {
			t.Errorf("%q formats back as %q", c.in, got.String())
		}
	}
	for _, c := range []struct {
		hb   HeartBeat
		want string
	}{
		{HeartBeat{}, "0,0"},
		{HeartBeat{Send: time.Microsecond, Receive: 1500 * time.Microsecond}, "1,2"}, // rounded up
		{HeartBeat{Send: -time.Second}, "0,0"},
		{HeartBeat{Receive: 1000 * time.Hour}, "0,2147483647"},
	} {
		if got := string(AppendHeartBeat(nil, c.hb)); got != c.want {
			t.Errorf("AppendHeartBeat(%v) = %q, want %q", c.hb, got, c.want)
		}
	}
}

// The rule from the spec: for each direction, none if the sender cannot
// send or the receiver does not want, else the larger number.
func TestHeartBeatNegotiate(t *testing.T) {
	ms := time.Millisecond
	hb := func(x, y int) HeartBeat { return HeartBeat{time.Duration(x) * ms, time.Duration(y) * ms} }
	for _, c := range []struct {
		server, client HeartBeat
		send, receive  time.Duration // the server's view
	}{
		{hb(0, 0), hb(10000, 10000), 0, 0},
		{hb(10000, 10000), hb(0, 0), 0, 0},
		{hb(10000, 10000), hb(4000, 20000), 20000 * ms, 10000 * ms},
		{hb(5000, 0), hb(1000, 1000), 5000 * ms, 0}, // server does not want any
		{hb(0, 5000), hb(1000, 1000), 0, 5000 * ms}, // server cannot send
		{hb(1000, 1000), hb(0, 3000), 3000 * ms, 0}, // client cannot send
		{hb(1000, 1000), hb(3000, 0), 0, 3000 * ms}, // client does not want any
		{hb(25000, 25000), hb(10000, 10000), 25000 * ms, 25000 * ms},
	} {
		send, receive := c.server.Negotiate(c.client)
		if send != c.send || receive != c.receive {
			t.Errorf("server %v, client %v: send %v receive %v; want %v %v", c.server, c.client, send, receive, c.send, c.receive)
		}
		// The client's view is the mirror image.
		cs, cr := c.client.Negotiate(c.server)
		if cs != c.receive || cr != c.send {
			t.Errorf("client view of %v/%v: %v %v", c.server, c.client, cs, cr)
		}
	}
}
