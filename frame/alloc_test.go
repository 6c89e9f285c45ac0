package frame

import (
	"bytes"
	"testing"
)

// countHandler counts callbacks without keeping payloads.
type countHandler struct{ msgs, ctls, bytes int }

func (h *countHandler) OnMessage(op Opcode, compressed bool, p []byte) error {
	h.msgs++
	h.bytes += len(p)
	return nil
}

func (h *countHandler) OnControl(op Opcode, p []byte) error {
	h.ctls++
	return nil
}

// echoHandler writes every message back as an unmasked frame into a reused
// buffer, the way a server echoes.
type echoHandler struct{ out []byte }

func (h *echoHandler) OnMessage(op Opcode, compressed bool, p []byte) error {
	h.out = AppendFrame(h.out, true, 0, op, p)
	return nil
}

func (h *echoHandler) OnControl(op Opcode, p []byte) error { return nil }

func skipAllocsUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
}

func textPayload(n int) []byte { return bytes.Repeat([]byte("abcdefgh"), n/8) }

func TestAllocsDecodeComplete(t *testing.T) {
	skipAllocsUnderRace(t)
	frame := cf(true, 0, OpText, string(textPayload(1024)))
	buf := make([]byte, len(frame))
	var d Decoder
	d.Init(&Limits{MaxMessage: DefaultMaxMessage}, false, false)
	var h countHandler
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf, frame)
		if err := d.Feed(buf, &h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || h.msgs == 0 {
		t.Fatalf("%v allocs per decode (%d messages)", allocs, h.msgs)
	}
}

func TestAllocsDecodeSplit(t *testing.T) {
	skipAllocsUnderRace(t)
	frame := cf(true, 0, OpText, string(textPayload(1024)))
	buf := make([]byte, len(frame))
	var d Decoder
	d.Init(nil, false, false)
	var h countHandler
	cut := len(frame) / 3
	run := func() {
		copy(buf, frame)
		if err := d.Feed(buf[:cut], &h); err != nil {
			t.Fatal(err)
		}
		if err := d.Feed(buf[cut:], &h); err != nil {
			t.Fatal(err)
		}
	}
	run() // warm up the pool
	allocs := testing.AllocsPerRun(200, run)
	if allocs != 0 || h.msgs < 201 || d.Buffered() {
		t.Fatalf("%v allocs per split decode (%d messages, buffered %v)", allocs, h.msgs, d.Buffered())
	}
}

func TestAllocsFragmented(t *testing.T) {
	skipAllocsUnderRace(t)
	stream := cat(cf(false, 0, OpText, "Hello, "), cf(true, 0, OpPing, ""), cf(true, 0, OpContinuation, "world"))
	buf := make([]byte, len(stream))
	var d Decoder
	d.Init(nil, false, false)
	var h countHandler
	run := func() {
		copy(buf, stream)
		if err := d.Feed(buf, &h); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
		t.Fatalf("%v allocs per fragmented message", allocs)
	}
}

func TestAllocsEcho(t *testing.T) {
	skipAllocsUnderRace(t)
	frame := cf(true, 0, OpBinary, string(textPayload(1024)))
	buf := make([]byte, len(frame))
	var d Decoder
	d.Init(nil, false, false)
	h := echoHandler{out: make([]byte, 0, 4096)}
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf, frame)
		h.out = h.out[:0]
		if err := d.Feed(buf, &h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || len(h.out) != HeaderSize(1024, false)+1024 {
		t.Fatalf("%v allocs per echo (out %d bytes)", allocs, len(h.out))
	}
}
