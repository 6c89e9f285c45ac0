package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wsgate/wsgate/frame"
)

// phases is a Backend that is starting, then serving, then draining.
type phases struct{ starting, draining atomic.Bool }

func (*phases) Publish(context.Context, string, frame.Opcode, []byte) (int, error)  { return 0, nil }
func (*phases) SendUser(context.Context, string, frame.Opcode, []byte) (int, error) { return 0, nil }
func (*phases) Rooms(func(string, int) bool)                                        {}
func (*phases) Stats() any                                                          { return struct{}{} }
func (*phases) Metrics() http.Handler                                               { return http.NotFoundHandler() }
func (p *phases) Draining() bool                                                    { return p.draining.Load() }
func (*phases) OpenConns() int64                                                    { return 0 }
func (p *phases) Starting() bool                                                    { return p.starting.Load() }

// TestReadyzFollowsTheGateway: /readyz is 503 "starting" until the
// gateway's listeners are open, 200 while it serves, 503 "draining" once a
// shutdown begins; /healthz is 200 throughout.
func TestReadyzFollowsTheGateway(t *testing.T) {
	p := &phases{}
	p.starting.Store(true)
	h := Handler(p, Options{})
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	check := func(phase string, want int, body string) {
		t.Helper()
		if code, got := get("/readyz"); code != want || got != body {
			t.Errorf("%s: /readyz = %d %q, want %d %q", phase, code, got, want, body)
		}
		if code, _ := get("/healthz"); code != 200 {
			t.Errorf("%s: /healthz = %d, want 200", phase, code)
		}
	}
	check("starting", 503, "starting")
	p.starting.Store(false)
	check("serving", 200, "ready")
	p.draining.Store(true)
	check("draining", 503, "draining")
}
