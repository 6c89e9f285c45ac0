package server

import (
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// muxCommandFrame returns cmd as a masked text frame.
func muxCommandFrame(cmd string) []byte {
	return frame.AppendMaskedFrame(nil, true, 0, frame.OpText, [4]byte{5, 6, 7, 8}, []byte(cmd))
}

// readExactly reads one server frame of exactly len(want) bytes from c and
// fails unless it equals want.
func readExactly(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestMuxPublishAllocatesNothing publishes over /ws to a room with a /ws
// member and a /room member, and counts every allocation in the process
// (client and server: parse, permission check, framing, the worker's
// envelope, fan-out, writes): in steady state there are none, whether
// the publisher is in the room or not. The publish carries an id, so its
// acknowledgement is part of the round trip.
func TestMuxPublishAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	s := startTestServer(t, noRoomPings)
	addr := s.Addr().String()
	member := rawUpgrade(t, addr, "/ws")
	defer member.Close()
	roomMember := rawUpgrade(t, addr, "/room/alloc")
	defer roomMember.Close()
	pub := rawUpgrade(t, addr, "/ws")
	defer pub.Close()
	ack := frame.AppendFrame(nil, true, 0, frame.OpText, []byte(`{"type":"published","room":"alloc","id":"p-1"}`))
	inAck := make([]byte, len(ack))
	joinCmd := muxCommandFrame(`{"type":"join","room":"alloc"}`)
	joined := frame.AppendFrame(nil, true, 0, frame.OpText, []byte(`{"type":"joined","room":"alloc"}`))
	if _, err := member.Write(joinCmd); err != nil {
		t.Fatal(err)
	}
	readExactly(t, member, joined)

	data := `{"seq":12345,"text":"hello, room","tags":["a","b"],"ok":true}`
	out := muxCommandFrame(`{"type":"publish","room":"alloc","data":` + data + `,"id":"p-1"}`)
	env := frame.AppendFrame(nil, true, 0, frame.OpText, []byte(`{"type":"message","room":"alloc","data":`+data+`}`))
	raw := frame.AppendFrame(nil, true, 0, frame.OpText, []byte(data))
	in, inRaw := make([]byte, len(env)), make([]byte, len(raw))
	roundTrip := func() {
		if _, err := pub.Write(out); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(member, in); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(roomMember, inRaw); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(pub, inAck); err != nil {
			t.Fatal(err)
		}
	}
	for _, inRoom := range []bool{false, true} {
		if inRoom {
			if _, err := pub.Write(joinCmd); err != nil {
				t.Fatal(err)
			}
			readExactly(t, pub, joined)
		}
		roundTrip()
		if string(in) != string(env) || string(inRaw) != string(raw) || string(inAck) != string(ack) {
			t.Fatalf("got %q, %q and %q, want %q, %q and %q", in, inRaw, inAck, env, raw, ack)
		}
		if n := testing.AllocsPerRun(200, roundTrip); n != 0 {
			t.Errorf("publish (publisher in the room: %v): %.2f allocations per message, want 0", inRoom, n)
		}
	}
}

// BenchmarkMuxFanout compares one publish to a room of 200 members on
// the /room endpoint (raw payload) and on /ws (JSON command in, envelope
// out) in the same run. Metrics as BenchmarkFanout10k: deliveries/s,
// bytes/syscall, allocs/delivery (every allocation in the process).
func BenchmarkMuxFanout(b *testing.B) {
	logMachine(b)
	for _, ep := range []string{"room", "ws"} {
		b.Run("endpoint="+ep, func(b *testing.B) { benchMuxFanout(b, ep, 200) })
	}
}

func benchMuxFanout(b *testing.B, ep string, members int) {
	srv := startTestServer(b, func(c *config.Config) {
		noRoomPings(c)
		c.WorkerQueue = 1024
	})
	addr := srv.Addr().String()
	sw := newSwarm(b, addr)
	sw.wantOp = frame.OpText
	path := "/room/bench"
	if ep == "ws" {
		path = "/ws"
	}
	sw.dial(members, func(int) string { return path })
	sa := sw.sa
	pub, err := dialRaw(&sa, addr, path, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Close(pub) })
	if ep == "ws" {
		join := muxCommandFrame(`{"type":"join","room":"bench"}`)
		for _, c := range sw.conns {
			if err := writeFull(c.fd, join, time.Now().Add(10*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	}
	wstest.WaitFor(b, 30*time.Second, "members to join", func() bool { return srv.hub.Count("bench") >= members })
	sw.startReaders(2)
	if ep == "ws" {
		sw.waitAll(1, 30*time.Second) // the "joined" replies
	}
	data := `{"event":"tick","symbol":"WSG","price":101.25,"seq":"`
	var out, f []byte
	publish := func(i int) { // allocation-free: the benchmark counts every allocation
		out = out[:0]
		if ep == "ws" {
			out = append(out, `{"type":"publish","room":"bench","data":`...)
		}
		out = append(out, data...)
		for d := 10000000; d > 0; d /= 10 {
			out = append(out, byte('0'+i/d%10))
		}
		out = append(out, '"', '}')
		if ep == "ws" {
			out = append(out, '}')
		}
		f = frame.AppendMaskedFrame(f[:0], true, 0, frame.OpText, [4]byte{1, 2, 3, 4}, out)
		if err := writeFull(pub, f, time.Now().Add(10*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	for _, inflight := range []int{1, 16} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			runFanout(b, srv, sw, publish, inflight, false)
		})
	}
	sw.check()
}
