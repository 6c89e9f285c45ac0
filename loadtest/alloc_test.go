package loadtest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"

	"github.com/wsgate/wsgate/loadtest/stats"
	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// openEcho returns an open client connection (id 1) with ev as its
// Events, to a server on 127.0.0.1 that completes the WebSocket handshake
// and then discards what it receives.
func openEcho(t testing.TB, ev wsclient.Events) *wsclient.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		br := bufio.NewReader(s)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		_, _ = io.WriteString(s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n")
		_, _ = io.Copy(io.Discard, br)
	}()
	cl, err := wsclient.New(wsclient.Options{}, stats.NewRecorder())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(0) })
	tg, err := wsclient.ParseTarget("ws://"+ln.Addr().String()+"/echo", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.Dial(tg, ev, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !c.Open(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("connection did not open")
		}
	}
	return c
}

// echoReply returns a reply to connection c's first echo message.
func echoReply(ev *echoEvents, c *wsclient.Conn) []byte {
	reply := append([]byte(nil), ev.template...)
	putStamp(reply, time.Now().UnixNano(), c.ID, 1)
	return reply
}

// The steady-state echo path of the scenario (check a reply's stamp,
// record the latency, send the next masked message) allocates nothing;
// the client's receive path before it (decoding the frame) is proven
// allocation-free in wsclient.
func TestEchoHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	e := &env{cfg: &Config{Size: 128}}
	ev := newEchoEvents(e)
	c := openEcho(t, ev)
	e.sending.Store(true)
	reply := echoReply(ev, c)
	buf := make([]byte, len(reply))
	c.Lock()
	defer c.Unlock()
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf, reply)
		ev.Message(c, frame.OpText, buf)
	})
	if allocs != 0 {
		t.Errorf("echo hot path: %.1f allocs per message", allocs)
	}
	if rec := c.Recorder(); rec.C.Delivered.Load() == 0 || rec.C.MsgsOut.Load() == 0 {
		t.Error("hot path did not deliver and send")
	}
}

func BenchmarkEchoHotPath(b *testing.B) {
	e := &env{cfg: &Config{Size: 128}}
	ev := newEchoEvents(e)
	c := openEcho(b, ev)
	e.sending.Store(true)
	reply := echoReply(ev, c)
	buf := make([]byte, len(reply))
	b.ReportAllocs()
	c.Lock()
	defer c.Unlock()
	for b.Loop() {
		copy(buf, reply)
		ev.Message(c, frame.OpText, buf)
	}
}

func BenchmarkStampParse(b *testing.B) {
	p := newPayload(64, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		putStamp(p, int64(i), 7, uint64(i))
		if _, _, _, ok := parseStamp(p); !ok {
			b.Fatal("bad stamp")
		}
	}
}
