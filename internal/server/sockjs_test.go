package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

func withSockJS(c *config.Config) {
	c.SockJS.Enabled = true
	c.PingInterval, c.IdleTimeout = 0, 0
}

// TestSockJSWebSocketRoomMember: a session carried by the SockJS
// websocket transport is a room member like a plain connection.
func TestSockJSWebSocketRoomMember(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/r/000/abc/websocket")
	a.ExpectMessage(frame.OpText, []byte("o"))
	b := wstest.Dial(t, addr, "/room/r")
	wstest.WaitFor(t, 10*time.Second, "2 members", func() bool { return srv.hub.Count("r") == 2 })
	b.Send(true, 0, frame.OpText, []byte("hi"))
	a.ExpectMessage(frame.OpText, []byte(`a["hi"]`))
	a.Send(true, 0, frame.OpText, []byte(`["back"]`))
	b.ExpectMessage(frame.OpText, []byte("back"))
}

// TestSockJSHTTPToWebSocket: a message sent by an HTTP session reaches
// a websocket-transport session and a plain member of the room.
func TestSockJSHTTPToWebSocket(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/r/000/abc/websocket")
	a.ExpectMessage(frame.OpText, []byte("o"))
	b := wstest.Dial(t, addr, "/room/r")
	base := "http://" + addr + "/room/r/000/xyz"
	if got := httpDo(t, "POST", base+"/xhr", ""); got != "o\n" {
		t.Fatalf("open: %q", got)
	}
	wstest.WaitFor(t, 10*time.Second, "3 members", func() bool { return srv.hub.Count("r") == 3 })
	httpDo(t, "POST", base+"/xhr_send", `["from http"]`)
	b.ExpectMessage(frame.OpText, []byte("from http"))
	a.ExpectMessage(frame.OpText, []byte(`a["from http"]`))
}

// TestSockJSWebSocketSendThenReceive: a websocket-transport session that
// has published still receives.
func TestSockJSWebSocketSendThenReceive(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/r/000/abc/websocket")
	a.ExpectMessage(frame.OpText, []byte("o"))
	b := wstest.Dial(t, addr, "/room/r")
	wstest.WaitFor(t, 10*time.Second, "2 members", func() bool { return srv.hub.Count("r") == 2 })
	a.Send(true, 0, frame.OpText, []byte(`["first"]`))
	b.ExpectMessage(frame.OpText, []byte("first"))
	b.Send(true, 0, frame.OpText, []byte("reply"))
	a.ExpectMessage(frame.OpText, []byte(`a["reply"]`))
}

// TestSockJSMux: the /ws JSON protocol over xhr-streaming: join, the
// joined reply and room messages in its envelope.
func TestSockJSMux(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	addr := srv.Addr().String()
	base := "http://" + addr + "/ws/000/mux1"
	st := openStream(t, base+"/xhr_streaming")
	st.until(t, "\n") // prelude
	if o := st.until(t, "\n"); o != "o\n" {
		t.Fatalf("open %q", o)
	}
	httpDo(t, "POST", base+"/xhr_send", `["{\"type\":\"join\",\"room\":\"m\",\"id\":1}"]`)
	if got := st.until(t, "\n"); got != `a["{\"type\":\"joined\",\"room\":\"m\",\"id\":1}"]`+"\n" {
		t.Fatalf("join reply %q", got)
	}
	p := wstest.Dial(t, addr, "/room/m")
	p.Send(true, 0, frame.OpText, []byte(`{"n":1}`))
	got := st.until(t, "\n")
	if !strings.Contains(got, `\"type\":\"message\"`) || !strings.Contains(got, `\"data\":{\"n\":1}`) {
		t.Fatalf("room message %q", got)
	}
	httpDo(t, "POST", base+"/xhr_send", `["{\"type\":\"publish\",\"room\":\"m\",\"data\":\"up\"}"]`)
	p.ExpectMessage(frame.OpText, []byte(`"up"`)) // a raw member gets the data itself
}

// TestSockJSSessionCleanup opens 1,000 polling sessions in a room (each
// with a user id), stops polling, and checks that the disconnect delay
// leaves nothing behind: no room, no user index entry, no session, no
// armed session timer, no connection slot. Ten cycles.
func TestSockJSSessionCleanup(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) {
		withSockJS(c)
		c.DevMode = true
		c.NoLimits = false
		c.MaxConnsPerIP, c.MaxConnsPerUser = 2000, 100
		c.ConnRate = 0
		c.SockJS.DisconnectDelay = 2 * time.Second // longer than opening 1,000 sessions takes
		c.Tick = 50 * time.Millisecond
	})
	addr := srv.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, MaxConnsPerHost: 8}}
	const sessions, cycles = 1000, 10
	for cycle := range cycles {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < sessions; i += 8 {
					u := fmt.Sprintf("http://%s/room/cleanup/000/c%d-%d/xhr?user=u%d", addr, cycle, i, i%50)
					r, err := client.Post(u, "text/plain", nil)
					if err != nil {
						errs <- err
						return
					}
					b, _ := io.ReadAll(r.Body)
					r.Body.Close()
					if string(b) != "o\n" {
						errs <- fmt.Errorf("session %d: %q", i, b)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := srv.hub.Count("cleanup"); n != sessions {
			t.Fatalf("cycle %d: %d room members, want %d", cycle, n, sessions)
		}
		wstest.WaitFor(t, 30*time.Second, "sessions to expire", func() bool {
			return srv.sj.Sessions() == 0 && srv.hub.Len() == 0 && srv.hub.Users() == 0 && srv.sj.Timers() == 0
		})
	}
	if total := srv.guard.counter.Total(); total != 0 {
		t.Errorf("%d connection slots still held", total)
	}
}

// TestSockJSDrain: a graceful shutdown closes SockJS sessions with the
// same code as connections, after the messages already queued for them.
func TestSockJSDrain(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	addr := srv.Addr().String()
	base := "http://" + addr + "/room/d/000/drain1"
	st := openStream(t, base+"/xhr_streaming")
	st.until(t, "\n") // prelude
	if o := st.until(t, "\n"); o != "o\n" {
		t.Fatalf("open %q", o)
	}
	p := wstest.Dial(t, addr, "/room/d")
	wstest.WaitFor(t, 10*time.Second, "2 members", func() bool { return srv.hub.Count("d") == 2 })
	p.Send(true, 0, frame.OpText, []byte("before the drain"))
	if got := st.until(t, "\n"); got != "a[\"before the drain\"]\n" {
		t.Fatalf("message %q", got)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	if got := st.until(t, "\n"); got != "c[1001,\"server shutting down\"]\n" {
		t.Fatalf("close frame %q", got)
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := srv.sj.Sessions(); n != 0 {
		t.Errorf("%d sessions left after the drain", n)
	}
}
