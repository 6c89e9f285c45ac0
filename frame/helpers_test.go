package frame

import (
	"bytes"
	"fmt"
	"strings"
)

// testKey is the masking key used by the test frame builders.
var testKey = [4]byte{0xA1, 0x5B, 0x3C, 0xD7}

// event is one Handler callback, recorded with a copy of its payload.
type event struct {
	ctl        bool
	op         Opcode
	compressed bool
	payload    string
}

func (e event) String() string {
	p := e.payload
	if len(p) > 40 {
		p = fmt.Sprintf("%s...(%d bytes)", p[:40], len(p))
	}
	if e.ctl {
		return fmt.Sprintf("ctl(%v %q)", e.op, p)
	}
	return fmt.Sprintf("msg(%v c=%v %q)", e.op, e.compressed, p)
}

// recorder is a Handler that records every callback.
type recorder struct {
	events []event
	// failOn makes the handler return errHandler on the n-th callback (1-based).
	failOn int
}

var errHandler = fmt.Errorf("handler error")

func (r *recorder) add(e event) error {
	r.events = append(r.events, e)
	if r.failOn == len(r.events) {
		return errHandler
	}
	return nil
}

func (r *recorder) OnMessage(op Opcode, compressed bool, payload []byte) error {
	return r.add(event{op: op, compressed: compressed, payload: string(payload)})
}

func (r *recorder) OnControl(op Opcode, payload []byte) error {
	return r.add(event{ctl: true, op: op, payload: string(payload)})
}

// decodeConfig selects the decoder role and options.
type decodeConfig struct {
	client    bool
	allowRSV1 bool
	lim       *Limits
}

// result is the outcome of decoding a byte stream.
type result struct {
	events   []event
	err      error
	buffered bool // Decoder.Buffered after the last Feed
}

func (r result) String() string {
	var sb strings.Builder
	for _, e := range r.events {
		sb.WriteString(e.String())
		sb.WriteString(" ")
	}
	fmt.Fprintf(&sb, "err=%v buffered=%v", r.err, r.buffered)
	return sb.String()
}

func sameResult(a, b result) bool {
	if a.err != b.err || a.buffered != b.buffered || len(a.events) != len(b.events) {
		return false
	}
	for i := range a.events {
		if a.events[i] != b.events[i] {
			return false
		}
	}
	return true
}

// decodeChunks feeds a copy of stream to a fresh decoder cut at the given
// offsets (ascending) and records the result. Feeding stops at the first error.
func decodeChunks(cfg decodeConfig, stream []byte, cuts ...int) result {
	data := bytes.Clone(stream)
	var d Decoder
	d.Init(cfg.lim, cfg.client, cfg.allowRSV1)
	defer d.Release()
	var rec recorder
	prev := 0
	var err error
	for _, c := range append(cuts, len(data)) {
		if err = d.Feed(data[prev:c], &rec); err != nil {
			break
		}
		prev = c
	}
	return result{events: rec.events, err: err, buffered: d.Buffered()}
}

// decodeWhole feeds stream in one call.
func decodeWhole(cfg decodeConfig, stream []byte) result { return decodeChunks(cfg, stream) }

// decodeBytewise feeds stream one byte per call.
func decodeBytewise(cfg decodeConfig, stream []byte) result {
	cuts := make([]int, 0, len(stream))
	for i := 1; i < len(stream); i++ {
		cuts = append(cuts, i)
	}
	return decodeChunks(cfg, stream, cuts...)
}

// Frame builders for tests. rsv is in wire position (RSV1).
func cf(fin bool, rsv byte, op Opcode, payload string) []byte {
	return AppendMaskedFrame(nil, fin, rsv, op, testKey, []byte(payload))
}

func sf(fin bool, rsv byte, op Opcode, payload string) []byte {
	return AppendFrame(nil, fin, rsv, op, []byte(payload))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func msg(op Opcode, payload string) event  { return event{op: op, payload: payload} }
func cmsg(op Opcode, payload string) event { return event{op: op, compressed: true, payload: payload} }
func ctl(op Opcode, payload string) event  { return event{ctl: true, op: op, payload: payload} }
