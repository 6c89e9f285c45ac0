package server_test

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestConformanceIdle: with PingInterval 1s and IdleTimeout 3s, a silent
// client is pinged, a client that answers stays, and one that stays
// silent is closed with 1001 and then dropped. Deadlines are generous; no
// timing is asserted.
func TestConformanceIdle(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, func(c *config.Config) {
		c.PingInterval = time.Second
		c.IdleTimeout = 3 * time.Second
		c.CloseTimeout = time.Second
		c.Tick = 50 * time.Millisecond
	})
	t.Run("idle/silent_client_is_pinged_then_closed_1001", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		start := time.Now()
		c.ExpectFrame(frame.OpPing, nil)
		t.Logf("ping after %v", time.Since(start).Round(time.Millisecond))
		c.ExpectCloseFrame(frame.CloseGoingAway)
		t.Logf("close after %v", time.Since(start).Round(time.Millisecond))
		// The client never answers the close: the server drops TCP after
		// its close timeout.
		c.ExpectEOF()
		t.Logf("TCP closed after %v", time.Since(start).Round(time.Millisecond))
	})
	t.Run("idle/client_answering_close", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.ExpectFrame(frame.OpPing, nil)
		c.ExpectCloseFrame(frame.CloseGoingAway)
		if err := c.WriteClose(uint16(frame.CloseGoingAway), ""); err != nil {
			t.Fatal(err)
		}
		c.ExpectEOF()
	})
	t.Run("idle/client_answering_pings_stays_open", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		end := time.Now().Add(5 * time.Second) // longer than IdleTimeout
		pings := 0
		for {
			c.Timeout = time.Until(end)
			if c.Timeout <= 0 {
				break
			}
			f, err := c.ReadFrame()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				t.Fatalf("after %d pings: %v", pings, err)
			}
			if f.Op != frame.OpPing {
				t.Fatalf("after %d pings: got %v, want only pings", pings, f)
			}
			pings++
			c.Send(true, 0, frame.OpPong, f.Payload)
		}
		if pings < 2 {
			t.Fatalf("got %d pings in 5s with a 1s ping interval", pings)
		}
		c.Timeout = 0
		// A ping may already be on its way: answer it, then expect the echo.
		c.Send(true, 0, frame.OpText, []byte("still here"))
		for {
			f, err := c.ReadFrame()
			if err != nil {
				t.Fatalf("waiting for the echo: %v", err)
			}
			if f.Op == frame.OpPing {
				c.Send(true, 0, frame.OpPong, f.Payload)
				continue
			}
			if f.Op != frame.OpText || string(f.Payload) != "still here" {
				t.Fatalf("want the echo, got %v", f)
			}
			break
		}
	})
	t.Run("idle/busy_client_outlives_idle_timeout", func(t *testing.T) {
		t.Parallel()
		// Idleness counts from the last read, not from the upgrade: a
		// client that keeps sending is never closed. (A ping may still
		// come if the machine stalls this goroutine; it is answered.)
		c := wstest.Dial(t, addr, "/echo")
		end := time.Now().Add(5 * time.Second)
		for i := 0; time.Now().Before(end); i++ {
			msg := strconv.AppendInt([]byte("busy "), int64(i), 10)
			c.Send(true, 0, frame.OpText, msg)
			for {
				f, err := c.ReadFrame()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if f.Op == frame.OpPing {
					c.Send(true, 0, frame.OpPong, f.Payload)
					continue
				}
				if f.Op != frame.OpText || !bytes.Equal(f.Payload, msg) {
					t.Fatalf("message %d: got %v, want its echo", i, f)
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
