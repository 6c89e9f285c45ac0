package poller

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// TestSendPairDropOldestKeepsPairsWhole queues messages made of a head
// and a tail Buf behind a full socket, drops the oldest, and reads the
// stream: every message that arrives must be whole (a head alone or a
// tail alone would break the framing the reader checks).
func TestSendPairDropOldestKeepsPairsWhole(t *testing.T) {
	h := &testHandler{opened: make(chan *testSession, 1)}
	_, addr := startEngine(t, h, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("!"))
	s := <-h.opened

	const tailLen = 16 << 10
	tail := NewBuf(tailLen)
	tail.B = tail.B[:tailLen]
	for i := range tail.B {
		tail.B[i] = 0xBB
	}
	sendPair := func() {
		head := NewBuf(8)
		head.B = append(head.B, 0xAA)
		head.B = binary.BigEndian.AppendUint32(head.B, tailLen)
		tail.Retain()
		if _, err := s.SendPair(head, tail); err != nil {
			t.Fatal(err)
		}
	}
	sent := 0
	for s.BlockedSince() == 0 {
		sendPair()
		sent++
		s.Flush()
	}
	for range 20 {
		sendPair()
		sent++
	}
	dropped := s.DropOldest(0)
	if dropped == 0 {
		t.Fatal("nothing dropped")
	}
	for range 5 {
		sendPair()
		sent++
	}
	s.Flush()

	// Read whole messages until the stream runs dry.
	want := sent - dropped
	r := bufio.NewReader(c)
	got := 0
	hdr := make([]byte, 5)
	body := make([]byte, tailLen)
	for got < want {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(r, hdr); err != nil {
			t.Fatalf("after %d whole messages of %d: %v", got, want, err)
		}
		if hdr[0] != 0xAA || binary.BigEndian.Uint32(hdr[1:]) != tailLen {
			t.Fatalf("message %d: head %x: the stream lost a head or a tail", got, hdr)
		}
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		for _, b := range body {
			if b != 0xBB {
				t.Fatalf("message %d: tail byte %x", got, b)
			}
		}
		got++
	}
	for s.Queued() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if r := tail.refs.Load(); r != 1 {
		t.Fatalf("tail refs = %d after draining, want 1", r)
	}
}
