package frame_test

import (
	"errors"
	"fmt"

	"github.com/wsgate/wsgate/frame"
)

// printer is a frame.Handler that prints what it gets.
type printer struct{}

func (printer) OnMessage(op frame.Opcode, compressed bool, payload []byte) error {
	fmt.Printf("message %v %q\n", op, payload)
	return nil
}

func (printer) OnControl(op frame.Opcode, payload []byte) error {
	if op == frame.OpClose {
		code, reason, _ := frame.ParseClose(payload) // already validated
		fmt.Printf("close %d %q\n", code, reason)
		return nil
	}
	fmt.Printf("control %v %q\n", op, payload)
	return nil
}

// A server decodes masked client frames; a fragmented message may have
// control frames between its fragments, and reads may end anywhere.
func ExampleDecoder() {
	key := [4]byte{1, 2, 3, 4}
	var wire []byte
	wire = frame.AppendMaskedFrame(wire, false, 0, frame.OpText, key, []byte("Hello, "))
	wire = frame.AppendMaskedFrame(wire, true, 0, frame.OpPing, key, []byte("are you there?"))
	wire = frame.AppendMaskedFrame(wire, true, 0, frame.OpContinuation, key, []byte("world"))
	wire = frame.AppendMaskedFrame(wire, true, 0, frame.OpClose, key, []byte("\x03\xe8bye"))

	lim := frame.Limits{MaxMessage: frame.DefaultMaxMessage}
	var d frame.Decoder
	d.Init(&lim, false, false)
	defer d.Release()
	for _, read := range [][]byte{wire[:5], wire[5:30], wire[30:]} { // three socket reads
		if err := d.Feed(read, printer{}); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Output:
	// control ping "are you there?"
	// message text "Hello, world"
	// close 1000 "bye"
}

// A protocol error carries the close code to answer with.
func ExampleProtocolError() {
	var d frame.Decoder
	d.Init(nil, false, false)
	unmasked := frame.AppendFrame(nil, true, 0, frame.OpText, []byte("hi"))
	err := d.Feed(unmasked, printer{})
	var pe *frame.ProtocolError
	if errors.As(err, &pe) {
		fmt.Printf("%d %s\n", pe.Code, pe)
		fmt.Printf("%q\n", frame.AppendClose(nil, pe.Code, ""))
	}
	// Output:
	// 1002 frame: unmasked client frame
	// "\x88\x02\x03\xea"
}

// Server frames are appended to a caller-owned buffer; constant frames are
// precompiled.
func ExampleAppendFrame() {
	out := make([]byte, 0, 64)
	out = frame.AppendFrame(out, true, 0, frame.OpText, []byte("hi"))
	out = append(out, frame.CompiledPing...)
	out = frame.AppendClose(out, frame.CloseGoingAway, "restarting")
	fmt.Printf("%q\n", out)
	// Output:
	// "\x81\x02hi\x89\x00\x88\f\x03\xe9restarting"
}
