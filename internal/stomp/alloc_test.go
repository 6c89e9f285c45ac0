package stomp

import (
	"strings"
	"testing"
)

// countHandler counts callbacks and reads a header, the way a server looks
// at a SEND, without keeping anything.
type countHandler struct{ frames, beats, bytes int }

func (h *countHandler) OnFrame(f *Frame) error {
	h.frames++
	h.bytes += len(f.Body) + len(f.Headers.Get(HeaderDestination))
	return nil
}

func (h *countHandler) OnHeartbeat() error {
	h.beats++
	return nil
}

func skipAllocsUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
}

// sendFrame is a SEND like @stomp/stompjs writes one, with a body of n bytes.
func sendFrame(n int) []byte {
	return AppendFrame(nil, CmdSend, []Header{
		{HeaderDestination, "/topic/chat.room-42"},
		{HeaderContentType, "application/json"},
	}, []byte(strings.Repeat("abcdefgh", n/8)))
}

func TestAllocsParseSend(t *testing.T) {
	skipAllocsUnderRace(t)
	frame := sendFrame(1024)
	frame = append(frame, '\n') // and a heart-beat
	buf := make([]byte, len(frame))
	var p Parser
	lim := DefaultLimits()
	p.Init(&lim)
	var h countHandler
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf, frame)
		if err := p.Feed(buf, &h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || h.frames == 0 || h.beats != h.frames {
		t.Fatalf("%v allocs per parse (%d frames, %d heart-beats)", allocs, h.frames, h.beats)
	}
}

func TestAllocsParseEscapedSplit(t *testing.T) {
	skipAllocsUnderRace(t)
	frame := AppendFrame(nil, CmdSend, []Header{{"destination", "/a:b\\c"}, {"x-k", "line\nbreak"}}, []byte("body"))
	buf := make([]byte, len(frame))
	cut := len(frame) / 2
	var p Parser
	var h countHandler
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf, frame)
		if err := p.Feed(buf[:cut], &h); err != nil {
			t.Fatal(err)
		}
		if err := p.Feed(buf[cut:], &h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || h.frames == 0 || p.Buffered() {
		t.Fatalf("%v allocs per split parse (%d frames)", allocs, h.frames)
	}
}

func TestAllocsEncodeMessage(t *testing.T) {
	skipAllocsUnderRace(t)
	body := []byte(strings.Repeat("x", 512))
	dest, ct := "/topic/chat.room-42", []byte("application/json")
	subs := []string{"sub-0", "sub-1", "sub-2"}
	msgID := []byte("m-1234567")
	head := make([]byte, 0, 256)
	tail := make([]byte, 0, 1024)
	frame := make([]byte, 0, 1024)
	n := 0
	allocs := testing.AllocsPerRun(200, func() {
		tail = AppendMessageTail(tail[:0], ct, body)
		for _, s := range subs {
			head = AppendMessageHead(head[:0], dest, s, msgID)
			head = AppendHeader(head, CmdMessage, HeaderAck, msgID)
			n += len(head) + len(tail)
		}
		frame = AppendFrame(frame[:0], CmdMessage, []Header{{HeaderDestination, dest}}, body)
		frame = AppendError(frame, "frame too large", msgID, nil)
		frame = AppendReceipt(frame, msgID)
	})
	if allocs != 0 || n == 0 {
		t.Fatalf("%v allocs per broadcast encode", allocs)
	}
}
