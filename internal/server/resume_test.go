package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/wstest"
)

// resumer is a /ws client of one room with history that keeps what it
// received and, when told, loses its connection and resumes from the
// last offset it has.
type resumer struct {
	addr, room string
	c          *wstest.Conn
	epoch      string
	offset     uint64   // the last offset received
	data       []string // every message's data, in the order received
	resumes    int
	replayed   int  // messages received before "joined" on resumes
	joining    bool // a resume's "joined" has not come yet
}

// connect opens a connection and joins, resuming when it has a position;
// the replay and "joined" are read by next like any other message.
func (r *resumer) connect() error {
	c, err := wstest.Connect(r.addr, "/ws")
	if err != nil {
		return err
	}
	c.Timeout = time.Minute // a busy machine may be slow; a lost message would still fail the test
	r.c = c
	cmd := `{"type":"join","room":"` + r.room + `"}`
	if r.epoch != "" {
		cmd = sinceCmd(r.room, r.offset, r.epoch)
		r.resumes++
		r.joining = true
	}
	return c.WriteMessage(1, []byte(cmd))
}

// reset drops the connection with a TCP reset, as a network failure
// would, without a close handshake.
func (r *resumer) reset() {
	if tc, ok := r.c.NC.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	r.c.Close()
}

// next reads one message; it checks that offsets follow each other and
// that every resume is recovered.
func (r *resumer) next() error {
	m, err := readHistErr(r.c)
	if err != nil {
		return err
	}
	switch m.Type {
	case "joined":
		if r.epoch != "" && (m.Recovered == nil || !*m.Recovered || m.Epoch != r.epoch) {
			return fmt.Errorf("resume after offset %d: %v", r.offset, m)
		}
		if r.epoch == "" {
			r.epoch, r.offset = m.Epoch, *m.Offset
		}
		r.joining = false
	case "message":
		if m.Offset == nil || *m.Offset != r.offset+1 || m.Epoch != r.epoch {
			return fmt.Errorf("after offset %d (epoch %s) got %v", r.offset, r.epoch, m)
		}
		r.offset++
		r.data = append(r.data, string(m.Data))
		if r.joining {
			r.replayed++
		}
	default:
		return fmt.Errorf("unexpected %v", m)
	}
	return nil
}

// TestHistoryResumeAfterReset: clients of a room with history lose their
// connections to TCP resets at random points while a publisher sends
// through the admin API, reconnect and resume; every client ends with
// every message exactly once, in order, and every resume is recovered.
// The resuming joins race the publisher, so the replay and the live
// stream meet at random offsets.
func TestHistoryResumeAfterReset(t *testing.T) {
	srv := historyServer(t, "live.*=100000/10m", nil)
	addr := srv.Addr().String()
	const clients, messages, resets = 16, 1500, 6
	rs := make([]*resumer, clients)
	for i := range rs {
		rs[i] = &resumer{addr: addr, room: "live.feed"}
		if err := rs[i].connect(); err != nil {
			t.Fatal(err)
		}
		if err := rs[i].next(); err != nil { // joined
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pubDone := make(chan error, 1)
	go func() {
		base := adminBase(srv)
		for i := 1; i <= messages && ctx.Err() == nil; i++ {
			if code, body := adminPost(base, publishBody("live.feed", []byte(strconv.Itoa(i)), false)); code != 200 {
				pubDone <- fmt.Errorf("publish %d: %d %s", i, code, body)
				return
			}
			if i%20 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		pubDone <- nil
	}()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			cuts := map[int]bool{}
			for len(cuts) < resets {
				cuts[1+rng.IntN(messages-1)] = true
			}
			for r.offset < messages {
				if err := r.next(); err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					cancel()
					return
				}
				if cuts[int(r.offset)] {
					delete(cuts, int(r.offset))
					r.reset()
					time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond) // let messages pass meanwhile
					if err := r.connect(); err != nil {
						errs <- fmt.Errorf("client %d reconnecting: %w", i, err)
						cancel()
						return
					}
				}
			}
			r.c.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	replayed := 0
	for i, r := range rs {
		replayed += r.replayed
		if len(r.data) != messages || r.resumes != resets {
			t.Fatalf("client %d: %d messages after %d resumes", i, len(r.data), r.resumes)
		}
		for k, d := range r.data {
			if d != strconv.Itoa(k+1) {
				t.Fatalf("client %d: message %d is %s", i, k+1, d)
			}
		}
	}
	t.Logf("%d clients, %d resumes each, %d of %d deliveries were replays", clients, resets, replayed, clients*messages)
}

func readHistErr(c *wstest.Conn) (histMsg, error) {
	var m histMsg
	op, p, err := c.ReadMessage()
	if err != nil {
		return m, err
	}
	if op != 1 {
		return m, fmt.Errorf("a %v message: %q", op, p)
	}
	return m, decodeStrict(p, &m)
}
