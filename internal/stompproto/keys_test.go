package stompproto

import (
	"strconv"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
)

// connectAndSubscribe opens a session on c and feeds it CONNECT (version
// accept) and a SUBSCRIBE with id to /topic/bench.
func connectAndSubscribe(p *Protocol, c *fakeConn, accept, id string) *session {
	c.state = p.Open(c)
	_ = p.Message(c, frame.OpText, []byte("CONNECT\naccept-version:"+accept+"\nhost:x\nheart-beat:0,0\n\n\x00"))
	_ = p.Message(c, frame.OpText, []byte("SUBSCRIBE\nid:"+id+"\ndestination:/topic/bench\n\n\x00"))
	return c.state.(*session)
}

// waitMembers waits until room bench has n members.
func waitMembers(t *testing.T, p *Protocol, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.pool.Hub().Count("bench") != n {
		if time.Now().After(deadline) {
			t.Fatalf("room bench has %d members, want %d", p.pool.Hub().Count("bench"), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSubKeysShared: subscriptions with the same destination and id share
// one key, others have their own, and every key goes with the last
// subscription that holds it (UNSUBSCRIBE or close).
func TestSubKeysShared(t *testing.T) {
	p, _ := newTestProtocol(t)
	var conns []*fakeConn
	var sessions []*session
	for i := range 6 {
		id := "sub-0"
		if i >= 4 {
			id = "own-" + strconv.Itoa(i)
		}
		c := newFakeConn(t, 0)
		conns = append(conns, c)
		sessions = append(sessions, connectAndSubscribe(p, c, "1.2", id))
	}
	waitMembers(t, p, 6)
	if got := p.keys.size(); got != 3 {
		t.Fatalf("%d keys, want 3 (sub-0 shared by 4, two of their own)", got)
	}
	if sessions[0].subs.key != sessions[3].subs.key {
		t.Error("two sub-0 subscriptions to one destination have different keys")
	}
	_ = p.Message(conns[4], frame.OpText, []byte("UNSUBSCRIBE\nid:own-4\n\n\x00"))
	waitMembers(t, p, 5)
	if got := p.keys.size(); got != 2 {
		t.Errorf("%d keys after an UNSUBSCRIBE, want 2", got)
	}
	for _, c := range conns {
		p.Close(c)
	}
	if got := p.keys.size(); got != 0 {
		t.Errorf("%d keys after every session closed, want 0", got)
	}
}

// TestSubInfoEscaped: a subscription id with characters STOMP 1.1 and 1.2
// escape in headers reads back as it was subscribed (UNSUBSCRIBE finds
// it), and a 1.0 session's, which is not escaped, too.
func TestSubInfoEscaped(t *testing.T) {
	p, _ := newTestProtocol(t)
	for _, tc := range []struct{ accept, wire, id string }{
		{"1.2", `a\cb\\c`, `a:b\c`},
		{"1.1", `x\cy`, `x:y`},
		{"1.0", `p\q`, `p\q`},
	} {
		c := newFakeConn(t, 0)
		s := connectAndSubscribe(p, c, tc.accept, tc.wire)
		if s.subs == nil {
			t.Fatalf("%s: no subscription", tc.accept)
		}
		k := s.subs.k()
		if k.id != tc.id || k.dest != "/topic/bench" || k.name != "bench" {
			t.Errorf("%s: subscription reads back as %+v, want id %q", tc.accept, k, tc.id)
		}
		if s.findSub([]byte(tc.id)) == nil {
			t.Errorf("%s: findSub(%q) found nothing", tc.accept, tc.id)
		}
		p.Close(c)
	}
	if got := p.keys.size(); got != 0 {
		t.Errorf("%d keys after every session closed, want 0", got)
	}
}
