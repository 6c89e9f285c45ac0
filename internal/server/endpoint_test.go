package server

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/wstest"
	"github.com/wsgate/wsgate/poller"
)

// shout is an endpoint registered from a test: its connections are
// members of the room "hall" and receive the room's messages in a format
// of its own ("SHOUT: " and the payload in capitals); a message a client
// sends is answered with its capitals and published to the hall as it is.
type shout struct {
	pool   *fanout.Pool
	format fanout.Format
	closed chan struct{}
}

func newShout(pool *fanout.Pool) *shout {
	s := &shout{pool: pool, closed: make(chan struct{}, 16)}
	s.format = pool.AddFormat(func(j *fanout.Job, _ []byte) (*poller.Buf, int) {
		return fanout.FrameBuf(0, frame.OpText, append([]byte("SHOUT: "), bytes.ToUpper(j.Payload())...))
	})
	return s
}

func (s *shout) Format() fanout.Format { return s.format }

func (s *shout) Open(c protocol.Conn) any {
	s.pool.Hub().Join("hall", c)
	return nil
}

func (s *shout) Message(c protocol.Conn, op frame.Opcode, payload []byte) error {
	c.Reply(op, bytes.ToUpper(payload))
	b, hdr := fanout.FrameBuf(0, op, payload)
	if !s.pool.TrySubmit(fanout.Job{Room: "hall", Buf: b, Hdr: hdr, From: c}) {
		b.Release()
	}
	return nil
}

func (s *shout) Refuse(protocol.Conn, string, string, string) {}

func (s *shout) Close(c protocol.Conn) {
	s.pool.Hub().Leave("hall", c)
	s.closed <- struct{}{}
}

// TestHandleCustomEndpoint registers a protocol from outside the server
// and checks that its connections go through the same upgrade, fan-out
// and close paths as the built-in endpoints: replies, publishing into a
// room shared with /room members, receiving the room's messages in the
// protocol's own format (encoded once per message), and Close.
func TestHandleCustomEndpoint(t *testing.T) {
	cfg := config.Default()
	cfg.Listen, cfg.Admin = "127.0.0.1:0", ""
	cfg.Anonymous, cfg.NoLimits = true, true
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sh := newShout(s.Fanout())
	if err := s.Handle("/shout", false, sh); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addr := s.Addr().String()
	a := wstest.Dial(t, addr, "/shout")
	b := wstest.Dial(t, addr, "/shout")
	r := wstest.Dial(t, addr, "/room/hall")
	wstest.WaitFor(t, 10*time.Second, "3 members in the hall", func() bool { return s.hub.Count("hall") == 3 })

	a.Send(true, 0, frame.OpText, []byte("hi there"))
	a.ExpectMessage(frame.OpText, []byte("HI THERE"))
	b.ExpectMessage(frame.OpText, []byte("SHOUT: HI THERE"))
	r.ExpectMessage(frame.OpText, []byte("hi there"))

	r.Send(true, 0, frame.OpText, []byte("from the room"))
	a.ExpectMessage(frame.OpText, []byte("SHOUT: FROM THE ROOM"))
	b.ExpectMessage(frame.OpText, []byte("SHOUT: FROM THE ROOM"))

	a.Close()
	select {
	case <-sh.closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the protocol's Close was not called")
	}
	wstest.WaitFor(t, 10*time.Second, "a left the hall", func() bool { return s.hub.Count("hall") == 2 })
}

// TestHandleTableBound: the endpoint table has room for 15 endpoints (the
// kind lives in 4 bits of the connection); one more is refused.
func TestHandleTableBound(t *testing.T) {
	cfg := config.Default()
	cfg.Listen, cfg.Admin = "127.0.0.1:0", ""
	cfg.Anonymous = true
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sh := newShout(s.Fanout())
	n := len(s.endpoints)
	for i := n; i < maxEndpoints; i++ {
		if err := s.Handle(fmt.Sprintf("/x%d", i), false, sh); err != nil {
			t.Fatalf("endpoint %d: %v", i+1, err)
		}
	}
	if err := s.Handle("/one-too-many", false, sh); err != ErrTooManyEndpoints {
		t.Fatalf("endpoint %d: %v, want ErrTooManyEndpoints", maxEndpoints+1, err)
	}
}
