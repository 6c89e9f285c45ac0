package server_test

// Security tests over real sockets, part 2: floods over each
// message limit (per connection by count and by bytes, per user across
// connections), the connection maxima (total 503, per user and per
// address 429, each with Retry-After, slots freed on close) and a
// connection storm from one address. Each test shares its server with 200
// bystanders that must lose nothing.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// floodResult is what a flooding client got back before the close.
type floodResult struct {
	echoes [][]byte
	errs   []errorMsg
	code   frame.CloseCode
	reason string
}

// flood writes msgs as op frames in one write (so the server meets them
// in a burst) and reads until the server's close frame: echoes, JSON
// errors, and the close.
func flood(tb testing.TB, c *wstest.Conn, op frame.Opcode, msgs [][]byte) floodResult {
	tb.Helper()
	var wire []byte
	for _, m := range msgs {
		wire = wstest.AppendFrame(wire, true, 0, op, m, true)
	}
	c.SendRaw(wire)
	var r floodResult
	for {
		f, err := c.ReadFrame()
		if err != nil {
			tb.Fatalf("flood: after %d echoes and %d errors: %v", len(r.echoes), len(r.errs), err)
		}
		switch {
		case f.Op == frame.OpClose:
			if len(f.Payload) >= 2 {
				r.code = frame.CloseCode(int(f.Payload[0])<<8 | int(f.Payload[1]))
				r.reason = string(f.Payload[2:])
			}
			return r
		case f.Op == frame.OpText && bytes.HasPrefix(f.Payload, []byte(`{"type":"error"`)):
			r.errs = append(r.errs, checkErrorMsg(tb, f.Op, f.Payload, "rate_limited", ""))
		case f.Op == op:
			r.echoes = append(r.echoes, f.Payload)
		default:
			tb.Fatalf("flood: unexpected frame %v", f)
		}
	}
}

// numbered returns n messages "prefix-NN", each padded to size bytes.
func numbered(prefix string, n, size int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		m := fmt.Appendf(nil, "%s-%02d", prefix, i)
		for len(m) < size {
			m = append(m, byte('a'+len(m)%26))
		}
		msgs[i] = m
	}
	return msgs
}

// inOrder reports whether got is a subsequence of want that starts with
// want[:prefix].
func inOrder(got, want [][]byte, prefix int) bool {
	if len(got) < prefix {
		return false
	}
	j := 0
	for i, g := range got {
		for j < len(want) && !bytes.Equal(g, want[j]) {
			if i < prefix {
				return false
			}
			j++
		}
		if j == len(want) {
			return false
		}
		j++
	}
	return true
}

// finishClose answers the server's close and expects it to end TCP.
func finishClose(tb testing.TB, c *wstest.Conn, code frame.CloseCode) {
	tb.Helper()
	_ = c.WriteClose(uint16(code), "")
	if err := c.ReadEOF(); err != nil {
		tb.Errorf("after the close handshake: %v", err)
	}
}

// TestRateLimitFlood: past a per-connection limit (messages or bytes) or
// a per-user limit (across the user's connections), each dropped message
// is counted, and the RateCloseAfter-th violation closes the connection
// with 1008 "rate limit exceeded"; other users, and the user's other
// connection, carry on. The raw endpoints (/echo, /room) have no error
// messages of their own, so a drop there is silent on the wire; on /ws
// each drop gets a JSON "rate_limited" error naming the limit.
func TestRateLimitFlood(t *testing.T) {
	t.Parallel()
	const closeAfter = 5
	limitsCfg := func(c *config.Config) {
		c.RateMsgs, c.RateMsgsBurst = 20, 20
		c.RateBytes, c.RateBytesBurst = 4<<10, 64<<10
		c.UserRateMsgs, c.UserRateMsgsBurst = 10, 20
		c.RateCloseAfter = closeAfter
		c.PingInterval = 0
	}
	_, addr, admin := secServer(t, limitsCfg)
	bys := crowd(t, addr, bystanderOpts{})
	limited := func(kind string) map[string]string { return map[string]string{"kind": kind} }
	policyClosed := map[string]string{"reason": "policy_violation"}

	t.Run("messages", func(t *testing.T) {
		before := opsScrape(t, admin)
		c := mustUpgrade(t, dialToken(t, addr, "/echo", hsToken(t, "flood-msgs"), viaHeader), "flooder")
		msgs := numbered("m", 30, 8)
		r := flood(t, c, frame.OpText, msgs)
		if len(r.errs) != 0 || r.code != frame.ClosePolicyViolation || r.reason != "rate limit exceeded" {
			t.Fatalf("got %d echoes, %d errors, close %d %q; want no errors, then close 1008 %q",
				len(r.echoes), len(r.errs), r.code, r.reason, "rate limit exceeded")
		}
		if !inOrder(r.echoes, msgs, 20) || len(r.echoes)+closeAfter > len(msgs) {
			t.Errorf("echoes %q: want the burst of 20 first, then at most a refill, in order", r.echoes)
		}
		finishClose(t, c, r.code)
		opsWaitMetric(t, admin, "5 message-rate violations and a policy close", func(p *promScrape) bool {
			return metricDelta(p, before, "wsgate_rate_limited_total", limited("messages")) == closeAfter &&
				metricDelta(p, before, "wsgate_connections_closed_total", policyClosed) == 1
		})
	})

	t.Run("pings", func(t *testing.T) {
		before := opsScrape(t, admin)
		c := mustUpgrade(t, dialToken(t, addr, "/echo", hsToken(t, "flood-pings"), viaHeader), "pinger")
		var wire []byte
		for i := 0; i < 30; i++ {
			wire = wstest.AppendFrame(wire, true, 0, frame.OpPing, []byte("p"), true)
		}
		c.SendRaw(wire)
		pongs, errs := 0, 0
		for {
			f, err := c.ReadFrame()
			if err != nil {
				t.Fatalf("after %d pongs and %d errors: %v", pongs, errs, err)
			}
			if f.Op == frame.OpPong {
				pongs++
				continue
			}
			if f.Op == frame.OpText {
				errs++
				continue
			}
			if f.Op != frame.OpClose || len(f.Payload) < 2 || frame.CloseCode(int(f.Payload[0])<<8|int(f.Payload[1])) != frame.ClosePolicyViolation {
				t.Fatalf("unexpected frame %v %q", f.Op, f.Payload)
			}
			break
		}
		if pongs < 20 || pongs > 25 || errs != 0 {
			t.Fatalf("%d pongs, %d text frames before 1008; want the burst of 20 (plus a refill) and no text", pongs, errs)
		}
		finishClose(t, c, frame.ClosePolicyViolation)
		opsWaitMetric(t, admin, "ping-flood violations", func(p *promScrape) bool {
			return metricDelta(p, before, "wsgate_rate_limited_total", limited("messages")) == closeAfter
		})
	})

	t.Run("bytes", func(t *testing.T) {
		before := opsScrape(t, admin)
		c := mustUpgrade(t, dialToken(t, addr, "/echo", hsToken(t, "flood-bytes"), viaHeader), "flooder")
		msgs := numbered("b", 9, 16<<10) // 4 fill the 64 KiB burst
		r := flood(t, c, frame.OpBinary, msgs)
		if len(r.echoes) != 4 || !inOrder(r.echoes, msgs, 4) || len(r.errs) != 0 || r.code != frame.ClosePolicyViolation {
			t.Fatalf("got %d echoes, %d errors, close %d %q; want 4 echoes, no errors, close 1008",
				len(r.echoes), len(r.errs), r.code, r.reason)
		}
		finishClose(t, c, r.code)
		opsWaitMetric(t, admin, "5 byte-rate violations and a policy close", func(p *promScrape) bool {
			return metricDelta(p, before, "wsgate_rate_limited_total", limited("bytes")) == closeAfter &&
				metricDelta(p, before, "wsgate_rate_limited_total", limited("messages")) == 0 &&
				metricDelta(p, before, "wsgate_connections_closed_total", policyClosed) == 1
		})
	})

	// A message dropped by the message-count limit was not accepted, so
	// it must not spend the connection's byte budget either.
	t.Run("dropped messages do not spend the byte budget", func(t *testing.T) {
		// A server of its own: the count of messages read, which tells
		// when every one was handled, must not include the bystanders'.
		_, addr, admin := secServer(t, limitsCfg)
		before := opsScrape(t, admin)
		c := mustUpgrade(t, dialToken(t, addr, "/echo", hsToken(t, "flood-spend"), viaHeader), "flooder")
		small := numbered("s", 20, 4)
		big := numbered("big", 3, 20<<10)
		var wire []byte
		for _, m := range small {
			wire = wstest.AppendFrame(wire, true, 0, frame.OpBinary, m, true)
		}
		for _, m := range big {
			wire = wstest.AppendFrame(wire, true, 0, frame.OpBinary, m, true)
		}
		c.SendRaw(wire)
		// Drops are silent on /echo: learn how many there were from the
		// metrics once the server has read every message.
		all := opsWaitMetric(t, admin, "every message read", func(p *promScrape) bool {
			return metricDelta(p, before, "wsgate_messages_total", map[string]string{"direction": "in", "opcode": "binary"}) == float64(len(small)+len(big))
		})
		dropped := int(metricDelta(all, before, "wsgate_rate_limited_total", limited("messages")))
		for range len(small) + len(big) - dropped {
			if _, _, err := c.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		if dropped == 0 {
			t.Fatal("setup: the message bucket refilled before the big messages arrived; nothing was dropped")
		}
		// The message bucket refills in a second; the byte bucket (4 KiB/s)
		// still holds 64 KiB less what the accepted messages took.
		spent := 20*4 + (len(big)-dropped)*(20<<10)
		t.Logf("%d big messages dropped; accepted bytes %d of the 64 KiB burst", dropped, spent)
		time.Sleep(1100 * time.Millisecond)
		last := numbered("after", 1, 20<<10)[0]
		c.Send(true, 0, frame.OpBinary, last)
		op, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if op != frame.OpBinary || !bytes.Equal(p, last) {
			t.Errorf("a 20 KiB message with %d accepted bytes in the last second: got %v %.120q, want its echo "+
				"(the dropped messages were charged to the byte bucket)", spent, op, p)
		}
		after := opsScrape(t, admin)
		if d := metricDelta(after, before, "wsgate_rate_limited_total", limited("messages")); d != float64(dropped) {
			t.Errorf("wsgate_rate_limited_total{kind=messages} rose by %v, want %d", d, dropped)
		}
		if d := metricDelta(after, before, "wsgate_rate_limited_total", limited("bytes")); d != 0 {
			t.Errorf("wsgate_rate_limited_total{kind=bytes} rose by %v, want 0", d)
		}
		c.Close()
	})

	// On a room, what the limit drops reaches no member.
	t.Run("room publisher", func(t *testing.T) {
		before := opsScrape(t, admin)
		c := mustUpgrade(t, dialToken(t, addr, "/room/flood.room", hsToken(t, "flood-room", "flood.room"), viaHeader), "flooder")
		m := mustUpgrade(t, dialToken(t, addr, "/room/flood.room", hsToken(t, "flood-member", "flood.room"), viaHeader), "member")
		w := mustUpgrade(t, dialToken(t, addr, "/room/flood.room", hsToken(t, "flood-marker", "flood.room"), viaHeader), "marker")
		wstest.WaitFor(t, 10*time.Second, "3 members", func() bool { return roomMembers(t, admin, "flood.room") == 3 })
		msgs := numbered("p", 30, 8)
		r := flood(t, c, frame.OpText, msgs)
		if len(r.echoes) != 0 || len(r.errs) != 0 || r.code != frame.ClosePolicyViolation {
			t.Fatalf("publisher got %d messages, %d errors, close %d %q; want nothing but a close 1008",
				len(r.echoes), len(r.errs), r.code, r.reason)
		}
		finishClose(t, c, r.code)
		// The member gets the accepted ones, in order, and nothing else
		// before a marker published after the flood (a room's messages
		// keep their order).
		var got [][]byte
		w.Send(true, 0, frame.OpText, []byte("end"))
		for {
			op, p, err := m.ReadMessage()
			if err != nil {
				t.Fatalf("member: %v", err)
			}
			if op == frame.OpText && string(p) == "end" {
				break
			}
			got = append(got, p)
		}
		if len(got) > 0 && !inOrder(got, msgs, 20) || len(got) < 20 || len(got)+closeAfter > len(msgs) {
			t.Errorf("member got %d messages %q: want the burst of 20 first and at most a refill more, in order", len(got), got)
		}
		opsWaitMetric(t, admin, "5 message-rate violations", func(p *promScrape) bool {
			return metricDelta(p, before, "wsgate_rate_limited_total", limited("messages")) == closeAfter
		})
	})

	// On /ws every drop is answered with an error that names the limit.
	t.Run("ws publisher", func(t *testing.T) {
		// The connection's limit is shown on a server without a user
		// limit: with both, whichever bucket a slow machine refills first
		// would be the one named.
		_, connAddr, connAdmin := secServer(t, func(c *config.Config) {
			limitsCfg(c)
			c.UserRateMsgs, c.UserRateMsgsBurst = 0, 0
		})
		connBefore, userBefore := opsScrape(t, connAdmin), opsScrape(t, admin)
		for _, tc := range []struct{ addr, user, limit string }{
			{connAddr, "flood-ws", "connection rate limit"},
			{addr, "flood-ws-user", "user rate limit"},
		} {
			tok := hsToken(t, tc.user, "flood.ws")
			if tc.limit == "user rate limit" {
				// Spend most of the user's burst (20) on another connection.
				other := mustUpgrade(t, dialToken(t, tc.addr, "/echo", tok, viaHeader), "user's other connection")
				for i := range 15 {
					other.Echo(frame.OpText, []byte(strconv.Itoa(i)))
				}
			}
			c := mustUpgrade(t, dialToken(t, tc.addr, "/ws", tok, viaHeader), "ws flooder")
			var cmds [][]byte
			for i := range 30 {
				cmds = append(cmds, fmt.Appendf(nil, `{"type":"publish","room":"flood.ws","data":%d}`, i))
			}
			r := flood(t, c, frame.OpText, cmds)
			if len(r.errs) != closeAfter-1 || r.code != frame.ClosePolicyViolation {
				t.Fatalf("%s: %d errors, close %d %q; want %d errors, then close 1008", tc.user, len(r.errs), r.code, r.reason, closeAfter-1)
			}
			if e := r.errs[0].Message; !strings.Contains(e, tc.limit) {
				t.Errorf("error message %q does not name the %s", e, tc.limit)
			}
			finishClose(t, c, r.code)
		}
		opsWaitMetric(t, connAdmin, "message-rate violations on /ws", func(p *promScrape) bool {
			return metricDelta(p, connBefore, "wsgate_rate_limited_total", limited("messages")) == closeAfter
		})
		opsWaitMetric(t, admin, "user message-rate violations on /ws", func(p *promScrape) bool {
			return metricDelta(p, userBefore, "wsgate_rate_limited_total", limited("user_messages")) == closeAfter
		})
	})

	t.Run("per user across connections", func(t *testing.T) {
		before := opsScrape(t, admin)
		tok := hsToken(t, "flood-user")
		c1 := mustUpgrade(t, dialToken(t, addr, "/echo", tok, viaHeader), "first connection")
		c2 := mustUpgrade(t, dialToken(t, addr, "/echo", tok, viaQuery), "second connection")
		first := numbered("u1", 15, 8)
		var wire []byte
		for _, m := range first {
			wire = wstest.AppendFrame(wire, true, 0, frame.OpText, m, true)
		}
		c1.SendRaw(wire)
		for _, m := range first {
			c1.ExpectMessage(frame.OpText, m)
		}
		// Within its own connection limit (burst 20), over the user's
		// (burst 20, 15 spent).
		second := numbered("u2", 20, 8)
		r := flood(t, c2, frame.OpText, second)
		if len(r.echoes) < 5 || !inOrder(r.echoes, second, 5) || len(r.errs) != 0 || r.code != frame.ClosePolicyViolation {
			t.Fatalf("second connection: %d echoes, %d errors, close %d %q; want >= 5 echoes, no errors, close 1008",
				len(r.echoes), len(r.errs), r.code, r.reason)
		}
		finishClose(t, c2, r.code)
		// The first connection is untouched and, once the user's bucket
		// refills, served again.
		expectAlive(t, c1, "the user's other connection")
		time.Sleep(300 * time.Millisecond)
		c1.Echo(frame.OpText, []byte("after the flood"))
		opsWaitMetric(t, admin, "5 user-rate violations and a policy close", func(p *promScrape) bool {
			return metricDelta(p, before, "wsgate_rate_limited_total", limited("user_messages")) == closeAfter &&
				metricDelta(p, before, "wsgate_connections_closed_total", policyClosed) == 1
		})
	})
	bys.check()
}

// TestConnectionLimits: MaxConnsPerUser and MaxConnsPerIP answer 429,
// MaxConns 503, each with Retry-After; a closed connection frees its slot.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	const crowdN, maxConns = 200, 210
	srv, addr, admin := secServer(t, func(c *config.Config) {
		c.MaxConns, c.MaxConnsPerUser, c.MaxConnsPerIP = maxConns, 3, 5
		c.PingInterval = 0
	})
	bys := crowd(t, addr, bystanderOpts{N: crowdN, PerIP: 4})
	waitOpen(t, srv, crowdN, 10*time.Second)
	before := opsScrape(t, admin)
	dial := func(src, user string) hsResult {
		return dialTokenFrom(t, srcAddr(src), addr, "/echo", hsToken(t, user), viaHeader)
	}
	refused := func(res hsResult, status int, retryAfter, reason, what string) {
		t.Helper()
		body := expectRefusal(t, res, status, what)
		if got := res.Header.Get("Retry-After"); got != retryAfter {
			t.Errorf("%s: Retry-After %q, want %q", what, got, retryAfter)
		}
		if !strings.Contains(body, reason) {
			t.Errorf("%s: body %q, want %q", what, body, reason)
		}
	}
	closeAll := func(cs []*wstest.Conn) {
		for _, c := range cs {
			c.Close()
		}
		waitOpen(t, srv, crowdN, 10*time.Second)
	}

	t.Run("per user", func(t *testing.T) {
		var cs []*wstest.Conn
		for i := range 3 {
			cs = append(cs, mustUpgrade(t, dial("127.0.0.2", "multi"), fmt.Sprintf("user's connection %d", i)))
		}
		refused(dial("127.0.0.2", "multi"), 429, "10", "too many connections for this user", "4th connection of a user")
		refused(dial("127.0.0.3", "multi"), 429, "10", "too many connections for this user", "4th connection of a user from elsewhere")
		cs = append(cs, mustUpgrade(t, dial("127.0.0.2", "multi-other"), "another user from the same address"))
		cs[0].Close()
		waitOpen(t, srv, crowdN+3, 10*time.Second)
		again := mustUpgrade(t, dial("127.0.0.2", "multi"), "after one closed")
		again.Echo(frame.OpText, []byte("slot freed"))
		closeAll(append(cs[1:], again))
	})

	// A connection the server closes (here for flooding, 1008) gives its
	// slot back like one the client closes.
	t.Run("slot freed by a policy close", func(t *testing.T) {
		var cs []*wstest.Conn
		for i := range 3 {
			cs = append(cs, mustUpgrade(t, dial("127.0.0.2", "evicted"), fmt.Sprintf("user's connection %d", i)))
		}
		refused(dial("127.0.0.2", "evicted"), 429, "10", "too many connections for this user", "4th connection of a user")
		r := flood(t, cs[0], frame.OpText, numbered("f", 230, 4)) // default limits: burst 200, close at the 10th violation
		if r.code != frame.ClosePolicyViolation {
			t.Fatalf("flood: close %d %q, want 1008", r.code, r.reason)
		}
		finishClose(t, cs[0], r.code)
		waitOpen(t, srv, crowdN+2, 10*time.Second)
		again := mustUpgrade(t, dial("127.0.0.2", "evicted"), "after the server closed one")
		again.Echo(frame.OpText, []byte("slot freed"))
		closeAll(append(cs[1:], again))
	})

	t.Run("per address", func(t *testing.T) {
		var cs []*wstest.Conn
		for i := range 5 {
			cs = append(cs, mustUpgrade(t, dial("127.0.0.4", fmt.Sprintf("ip-%d", i)), fmt.Sprintf("address's connection %d", i)))
		}
		refused(dial("127.0.0.4", "ip-5"), 429, "10", "too many connections from this address", "6th connection of an address")
		cs = append(cs, mustUpgrade(t, dial("127.0.0.5", "ip-5"), "the same user from another address"))
		cs[0].Close()
		waitOpen(t, srv, crowdN+5, 10*time.Second)
		again := mustUpgrade(t, dial("127.0.0.4", "ip-6"), "after one closed")
		again.Echo(frame.OpText, []byte("slot freed"))
		closeAll(append(cs[1:], again))
	})

	t.Run("total", func(t *testing.T) {
		var cs []*wstest.Conn
		for i := range maxConns - crowdN {
			src := fmt.Sprintf("127.0.0.%d", 6+i/2)
			cs = append(cs, mustUpgrade(t, dial(src, fmt.Sprintf("total-%d", i)), fmt.Sprintf("connection %d", crowdN+i+1)))
		}
		refused(dial("127.0.0.20", "total-x"), 503, "5", "too many connections", "one over MaxConns")
		// The token is checked first: a bad one is 401, not 503, and
		// never takes a slot.
		expectRefusal(t, dialTokenFrom(t, srcAddr("127.0.0.20"), addr, "/echo", "bad.token.here", viaHeader), 401, "bad token at the maximum")
		cs[0].Close()
		waitOpen(t, srv, maxConns-1, 10*time.Second)
		again := mustUpgrade(t, dial("127.0.0.20", "total-x"), "after one closed")
		again.Echo(frame.OpText, []byte("slot freed"))
		closeAll(append(cs[1:], again))
	})

	after := opsScrape(t, admin)
	for kind, want := range map[string]float64{"connections_per_user": 3, "connections_per_ip": 1, "connections_total": 1} {
		if d := metricDelta(after, before, "wsgate_rate_limited_total", map[string]string{"kind": kind}); d != want {
			t.Errorf("wsgate_rate_limited_total{kind=%s} rose by %v, want %v", kind, d, want)
		}
	}
	for result, want := range map[string]float64{"too_many": 4, "unavailable": 1, "unauthorized": 1} {
		if d := metricDelta(after, before, "wsgate_handshakes_total", map[string]string{"result": result}); d != want {
			t.Errorf("wsgate_handshakes_total{result=%s} rose by %v, want %v", result, d, want)
		}
	}
	bys.check()
}

// TestConnStormOneIP: 500 connection attempts in a burst from one
// address with the default rate (20/s, burst 50): the burst passes, the
// rest get 429 with Retry-After (or, while the address has
// -max-pending-handshakes-per-ip connections between accept and their
// answer or hang-up, are closed at accept, and counted), other addresses
// are served meanwhile, and the address is served again after
// Retry-After.
func TestConnStormOneIP(t *testing.T) {
	t.Parallel()
	const attempts, rate, burst = 500, 20, 50
	_, addr, admin := secServer(t, func(c *config.Config) {
		c.ConnRate, c.ConnRateBurst = rate, burst
		c.PingInterval = 0
	})
	bys := crowd(t, addr, bystanderOpts{})
	before := opsScrape(t, admin)
	tokens := make([]string, attempts)
	for i := range tokens {
		tokens[i] = hsToken(t, "storm-"+strconv.Itoa(i))
	}
	var (
		mu         sync.Mutex
		ok, n429   int
		shed       int // closed at accept: the address had too many handshakes in progress
		other      []string
		retryAfter = map[string]int{}
	)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				key := wstest.NewKey()
				res, err := handshake(t, srcAddr("127.0.0.1"), addr, tokenRequest(addr, "/echo", tokens[i], viaHeader, key))
				mu.Lock()
				switch {
				case err != nil && res.Status == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)):
					shed++
				case err != nil:
					other = append(other, err.Error())
				case res.Status == http.StatusSwitchingProtocols:
					ok++
					res.Conn.Close()
				case res.Status == http.StatusTooManyRequests && strings.Contains(res.Body, "connecting too fast"):
					n429++
					retryAfter[res.Header.Get("Retry-After")]++
				default:
					other = append(other, fmt.Sprintf("%d %q", res.Status, res.Body))
				}
				mu.Unlock()
			}
		}()
	}
	// Another address is served during the storm.
	during := make(chan hsResult, 1)
	calm := hsToken(t, "calm")
	go func() {
		time.Sleep(50 * time.Millisecond)
		key := wstest.NewKey()
		res, err := handshake(t, srcAddr("127.0.0.9"), addr, tokenRequest(addr, "/echo", calm, viaHeader, key))
		if err != nil {
			res.Status, res.Body = -1, err.Error()
		}
		during <- res
	}()
	for i := range attempts {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d attempts in %v: %d upgraded, %d refused with 429, %d closed at accept; Retry-After values %v",
		attempts, elapsed.Round(time.Millisecond), ok, n429, shed, retryAfter)
	if len(other) > 0 {
		t.Fatalf("%d attempts ended otherwise, e.g. %s", len(other), other[0])
	}
	if limit := burst + int(rate*elapsed.Seconds()) + 1; ok < burst || ok > limit {
		t.Errorf("%d upgraded in %v; want the burst of %d and at most %d/s more (<= %d)", ok, elapsed, burst, rate, limit)
	}
	wait := 0
	for v := range retryAfter {
		s, err := strconv.Atoi(v)
		if err != nil || s < 1 || s > 60 {
			t.Errorf("Retry-After %q: want whole seconds within 1..60", v)
		}
		wait = max(wait, s)
	}
	res := <-during
	c := mustUpgrade(t, res, "a client from another address during the storm")
	c.Echo(frame.OpText, []byte("served during the storm"))
	if status, _ := opsGet(t, admin+"/healthz"); status != 200 {
		t.Errorf("/healthz after the storm: %d", status)
	}
	// The stormed address is served again after the Retry-After it got.
	time.Sleep(time.Duration(wait) * time.Second)
	mustUpgrade(t, dialTokenFrom(t, srcAddr("127.0.0.1"), addr, "/echo", hsToken(t, "storm-after"), viaHeader), "after Retry-After").
		Echo(frame.OpText, []byte("served again"))

	after := opsScrape(t, admin)
	if d := metricDelta(after, before, "wsgate_rate_limited_total", map[string]string{"kind": "connection_rate"}); d != float64(n429) {
		t.Errorf("wsgate_rate_limited_total{kind=connection_rate} rose by %v, want %d", d, n429)
	}
	if d := metricDelta(after, before, "wsgate_handshakes_total", map[string]string{"result": "too_many"}); d != float64(n429) {
		t.Errorf("wsgate_handshakes_total{result=too_many} rose by %v, want %d", d, n429)
	}
	if d := metricDelta(after, before, "wsgate_handshakes_total", map[string]string{"result": "ok"}); d != float64(ok+2) {
		t.Errorf("wsgate_handshakes_total{result=ok} rose by %v, want %d", d, ok+2)
	}
	if d := metricDelta(after, before, "wsgate_handshakes_shed_total", map[string]string{"reason": "per_ip"}); d != float64(shed) {
		t.Errorf("wsgate_handshakes_shed_total{reason=per_ip} rose by %v, want the %d closed at accept", d, shed)
	}
	bys.check()
}

// TestUserLimitDropsCostConnectionNothing: a message the per-user limit
// drops must not also spend the connection's own budget. The connection
// may send 4 messages in all (no refill to speak of), the user 1 every
// 250 ms: one passes, five are dropped by the user limit (each error
// names the user limit, never the connection's), and after the user's
// refill the connection still has budget for another.
func TestUserLimitDropsCostConnectionNothing(t *testing.T) {
	t.Parallel()
	_, addr, admin := secServer(t, func(c *config.Config) {
		c.RateMsgs, c.RateMsgsBurst = 0.001, 4
		c.UserRateMsgs, c.UserRateMsgsBurst = 4, 1
		c.RateCloseAfter = 100
		c.PingInterval = 0
	})
	c := mustUpgrade(t, dialToken(t, addr, "/echo", hsToken(t, "user-only"), viaHeader), "client")
	before := opsScrape(t, admin)
	c.Echo(frame.OpText, []byte("first"))
	var wire []byte
	for i := 0; i < 5; i++ {
		wire = wstest.AppendFrame(wire, true, 0, frame.OpText, []byte("dropped"), true)
	}
	c.SendRaw(wire)
	// Every drop is the user limit's, never the connection's (whose budget
	// user-dropped messages must not spend).
	p := opsWaitMetric(t, admin, "5 user-limit drops", func(p *promScrape) bool {
		return metricDelta(p, before, "wsgate_rate_limited_total", map[string]string{"kind": "user_messages"}) == 5
	})
	if d := metricDelta(p, before, "wsgate_rate_limited_total", map[string]string{"kind": "messages"}); d != 0 {
		t.Fatalf("the connection's own limit dropped %v messages", d)
	}
	time.Sleep(400 * time.Millisecond) // the user's bucket refills; the connection's does not
	c.Echo(frame.OpText, []byte("second"))
}
