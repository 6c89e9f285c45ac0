package stomp

import (
	"errors"
	"fmt"
	"strings"
)

// event is one Handler callback, recorded with copies of what it got.
type event struct {
	hb      bool
	cmd     Command
	headers [][2]string // in wire order, repeats included
	body    string
}

func (e event) String() string {
	if e.hb {
		return "hb"
	}
	var sb strings.Builder
	sb.WriteString(e.cmd.String())
	for _, h := range e.headers {
		fmt.Fprintf(&sb, " %q:%q", h[0], h[1])
	}
	b := e.body
	if len(b) > 40 {
		b = fmt.Sprintf("%s...(%d bytes)", b[:40], len(b))
	}
	fmt.Fprintf(&sb, " body=%q", b)
	return sb.String()
}

func sameEvent(a, b event) bool {
	if a.hb != b.hb || a.cmd != b.cmd || a.body != b.body || len(a.headers) != len(b.headers) {
		return false
	}
	for i := range a.headers {
		if a.headers[i] != b.headers[i] {
			return false
		}
	}
	return true
}

// frameEvent copies f into an event.
func frameEvent(f *Frame) event {
	e := event{cmd: f.Command, body: string(f.Body)}
	for i := 0; i < f.Headers.Len(); i++ {
		n, v := f.Headers.At(i)
		e.headers = append(e.headers, [2]string{string(n), string(v)})
	}
	return e
}

// recorder is a Handler that records every callback.
type recorder struct {
	events []event
	failOn int // return errHandler on the n-th callback (1-based)
	p      *Parser
	// releaseOn calls p.Release inside the n-th callback (1-based).
	releaseOn int
	// setVersion, if not 0, is applied with p.SetVersion on every frame.
	setVersion Version
}

var errHandler = errors.New("handler error")

func (r *recorder) add(e event) error {
	r.events = append(r.events, e)
	if r.releaseOn == len(r.events) {
		r.p.Release()
	}
	if r.failOn == len(r.events) {
		return errHandler
	}
	return nil
}

func (r *recorder) OnFrame(f *Frame) error {
	if r.setVersion != 0 {
		r.p.SetVersion(r.setVersion)
	}
	return r.add(frameEvent(f))
}

func (r *recorder) OnHeartbeat() error { return r.add(event{hb: true}) }

// parseConfig selects limits and the escaping version.
type parseConfig struct {
	lim *Limits
	ver Version
}

// result is the outcome of parsing a byte stream.
type result struct {
	events   []event
	err      error
	buffered bool // Parser.Buffered after the last Feed
}

func (r result) String() string {
	var sb strings.Builder
	for _, e := range r.events {
		sb.WriteString(e.String())
		sb.WriteString("; ")
	}
	fmt.Fprintf(&sb, "err=%v buffered=%v", r.err, r.buffered)
	return sb.String()
}

func sameResult(a, b result) bool {
	if a.err != b.err || a.buffered != b.buffered || len(a.events) != len(b.events) {
		return false
	}
	for i := range a.events {
		if !sameEvent(a.events[i], b.events[i]) {
			return false
		}
	}
	return true
}

// parseChunks parses stream cut at the given increasing offsets. Each
// chunk is a fresh copy (parsing modifies its input), like separate
// WebSocket messages.
func parseChunks(cfg parseConfig, stream []byte, cuts ...int) result {
	var p Parser
	p.Init(cfg.lim)
	if cfg.ver != 0 {
		p.SetVersion(cfg.ver)
	}
	r := &recorder{p: &p}
	prev := 0
	for _, c := range append(cuts, len(stream)) {
		chunk := append([]byte(nil), stream[prev:c]...)
		prev = c
		if err := p.Feed(chunk, r); err != nil {
			return result{events: r.events, err: err, buffered: p.Buffered()}
		}
	}
	res := result{events: r.events, buffered: p.Buffered()}
	p.Release()
	return res
}

func parseWhole(cfg parseConfig, stream []byte) result { return parseChunks(cfg, stream) }

// parseBytewise feeds stream one byte at a time.
func parseBytewise(cfg parseConfig, stream []byte) result {
	cuts := make([]int, 0, len(stream))
	for i := 1; i < len(stream); i++ {
		cuts = append(cuts, i)
	}
	return parseChunks(cfg, stream, cuts...)
}

// hdrs builds a header list from name, value pairs.
func hdrs(nv ...string) [][2]string {
	var out [][2]string
	for i := 0; i+1 < len(nv); i += 2 {
		out = append(out, [2]string{nv[i], nv[i+1]})
	}
	return out
}

// fev builds a frame event.
func fev(cmd Command, body string, nv ...string) event {
	return event{cmd: cmd, headers: hdrs(nv...), body: body}
}

var hb = event{hb: true}
