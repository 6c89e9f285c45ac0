package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestAcceptForRFCExample(t *testing.T) {
	// RFC 6455 §1.3.
	if got := acceptFor("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("acceptFor = %q", got)
	}
}

func TestFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 64, 125, 126, 1024, 65535, 65536} {
		f := newFrames(size, rng)
		hdr := len(f.Server) - size
		if want := map[bool]int{true: 2, false: map[bool]int{true: 4, false: 10}[size <= 0xffff]}[size < 126]; hdr != want {
			t.Errorf("size %d: server header %d bytes, want %d", size, hdr, want)
		}
		if f.Server[0] != 0x82 || f.Client[0] != 0x82 || f.Server[1]&0x80 != 0 || f.Client[1]&0x80 == 0 {
			t.Errorf("size %d: first bytes client % x server % x", size, f.Client[:2], f.Server[:2])
		}
		if !bytes.Equal(append([]byte{f.Client[1] &^ 0x80}, f.Client[2:hdr]...), f.Server[1:hdr]) {
			t.Errorf("size %d: length fields differ", size)
		}
		key := f.Client[hdr : hdr+4]
		payload := f.Client[hdr+4:]
		for i := range payload {
			if payload[i]^key[i%4] != f.Server[hdr+i] {
				t.Fatalf("size %d: byte %d does not unmask to the payload", size, i)
			}
		}
	}
}

func TestCheckResponse(t *testing.T) {
	const accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-accept:  " + accept + "\r\n\r\n"
	cases := []struct {
		name, resp string
		done       bool
		err        error
	}{
		{"complete", ok, true, nil},
		{"partial", ok[:40], false, nil},
		{"wrong accept", strings.Replace(ok, accept, "x", 1), true, errAccept},
		{"no accept", "HTTP/1.1 101 Switching Protocols\r\n\r\n", true, errAccept},
		{"refused", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", true, errStatus},
		{"early data", ok + "\x82\x00", true, errEarly},
		{"endless", "HTTP/1.1 101 OK\r\n" + strings.Repeat("X: y\r\n", 2000), false, errTooLarge},
	}
	for _, c := range cases {
		done, err := checkResponse([]byte(c.resp), accept)
		if done != c.done || err != c.err {
			t.Errorf("%s: done %v err %v, want %v %v", c.name, done, err, c.done, c.err)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * 10 * time.Microsecond) // 10 µs .. 10 ms
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {0.001, 10 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.07 || d > 0.07 {
			t.Errorf("q%.3f = %v, want %v ± 7%%", c.q, got, c.want)
		}
	}
	if h.count() != 1000 {
		t.Errorf("count %d", h.count())
	}
}

func TestParseSources(t *testing.T) {
	got, err := parseSources("127.0.0.2-127.0.0.5")
	if err != nil || len(got) != 4 || got[3].String() != "127.0.0.5" {
		t.Fatalf("range: %v %v", got, err)
	}
	if got, err := parseSources("127.0.0.7, 127.0.0.9"); err != nil || len(got) != 2 {
		t.Fatalf("list: %v %v", got, err)
	}
	for _, bad := range []string{"127.0.0.9-127.0.0.2", "::1", "x"} {
		if _, err := parseSources(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// server runs a gorilla/websocket server on 127.0.0.1 whose /echo
// echoes, /bad echoes with the last byte changed and /deny refuses.
func server(t *testing.T) string {
	t.Helper()
	up := websocket.Upgrader{}
	serve := func(corrupt bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				mt, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				if corrupt && len(p) > 0 {
					p[len(p)-1]++
				}
				if c.WriteMessage(mt, p) != nil {
					return
				}
			}
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/echo", serve(false))
	mux.Handle("/bad", serve(true))
	mux.HandleFunc("/deny", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// runClient runs the command with args and returns its report, its exit
// code and its standard output.
func runClient(t *testing.T, args ...string) (report, int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.json")
	var out, errw bytes.Buffer
	code := mainErr(append([]string{"-json", path}, args...), &out, &errw)
	var r report
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no report (exit %d): %v\n%s", code, err, errw.String())
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r, code, out.String()
}

func TestEchoBothEngines(t *testing.T) {
	addr := server(t)
	for _, eng := range []string{"epoll", "gorilla"} {
		for _, size := range []int{64, 1024} {
			r, code, out := runClient(t, "-engine", eng, "-conns", "40", "-size", strconv.Itoa(size), "-warmup", "100ms",
				"-duration", "1s", "-source-ips", "127.0.0.2-127.0.0.4", "ws://"+addr+"/echo")
			if code != 0 || r.Connected != 40 || r.ConnectFailed != 0 || r.Msgs == 0 || r.Errors != 0 {
				t.Errorf("%s %d B: exit %d, %+v", eng, size, code, r)
			}
			if r.RTT.Count == 0 || r.RTT.P50 <= 0 || r.RTT.P99 < r.RTT.P50 {
				t.Errorf("%s %d B: rtt %+v", eng, size, r.RTT)
			}
			if want := "phase connect\nphase warmup\nphase measure\nphase done\n"; out != want {
				t.Errorf("%s: phases %q, want %q", eng, out, want)
			}
		}
	}
}

func TestConnectMode(t *testing.T) {
	addr := server(t)
	for _, eng := range []string{"epoll", "gorilla"} {
		r, code, out := runClient(t, "-engine", eng, "-mode", "connect", "-conns", "300", "-dial-concurrency", "50",
			"-hold", "10ms", "ws://"+addr+"/echo")
		if code != 0 || r.Connected != 300 || r.HandshakesPerS <= 0 || r.Handshake.Count != 300 {
			t.Errorf("%s: exit %d, %+v", eng, code, r)
		}
		if out != "phase measure\nphase done\n" {
			t.Errorf("%s: phases %q", eng, out)
		}
	}
}

func TestWrongEchoAndRefusalAreErrors(t *testing.T) {
	addr := server(t)
	for _, eng := range []string{"epoll", "gorilla"} {
		// Every first echo is wrong, and arrives in the window or in the
		// drain, which ends as soon as no echo is awaited.
		r, code, _ := runClient(t, "-engine", eng, "-conns", "5", "-warmup", "50ms", "-duration", "100ms", "-drain", "30s",
			"ws://"+addr+"/bad")
		if code == 0 || r.Errors != 5 || r.Msgs != 0 {
			t.Errorf("%s /bad: exit %d, %+v", eng, code, r)
		}
		r, code, _ = runClient(t, "-engine", eng, "-mode", "connect", "-conns", "3", "ws://"+addr+"/deny")
		if code == 0 || r.ConnectFailed != 3 || r.Connected != 0 {
			t.Errorf("%s /deny: exit %d, %+v", eng, code, r)
		}
	}
}

// TestEchoLargerThanTheSocketBuffers sends messages no socket buffer
// holds whole, so every write is partial and finishes on EPOLLOUT, and
// every echo arrives in many reads.
func TestEchoLargerThanTheSocketBuffers(t *testing.T) {
	addr := server(t)
	// One connection and a window long enough for an echo of 4 MiB even
	// on a loaded machine under the race detector.
	r, code, _ := runClient(t, "-conns", "1", "-size", strconv.Itoa(4<<20), "-warmup", "0s", "-duration", "4s",
		"-drain", "10s", "ws://"+addr+"/echo")
	if code != 0 || r.Connected != 1 || r.Msgs == 0 || r.Errors != 0 {
		t.Errorf("exit %d, %+v", code, r)
	}
}
