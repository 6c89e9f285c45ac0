package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEcho(t *testing.T) {
	s, err := start("127.0.0.1:0", 2, 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.eng.Stop()
	c, err := net.Dial("tcp", s.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := []byte("floor echo test")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(msg) {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
	if n := s.open.Load(); n != 1 {
		t.Fatalf("open = %d, want 1", n)
	}
}

func TestCommands(t *testing.T) {
	s, err := start("127.0.0.1:0", 1, 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.eng.Stop()
	prof := filepath.Join(t.TempDir(), "heap.pprof")
	in := strings.NewReader("stats\nheap " + prof + "\nheap\nbogus\n")
	pr, pw := io.Pipe()
	go func() {
		serveCommands(in, pw, &s.open)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 4 {
		t.Fatalf("got %d answer lines, want 4: %q", len(lines), lines)
	}
	var st Stats
	if err := json.Unmarshal([]byte(lines[0]), &st); err != nil {
		t.Fatalf("stats answer %q: %v", lines[0], err)
	}
	if st.HeapInuse == 0 || st.Sys == 0 || st.Goroutines == 0 || st.Conns != 0 {
		t.Fatalf("implausible stats: %+v", st)
	}
	if lines[1] != "ok" {
		t.Fatalf("heap answer %q, want ok", lines[1])
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Fatalf("heap profile not written: %v", err)
	}
	for _, l := range lines[2:] {
		if !strings.HasPrefix(l, "error: ") {
			t.Fatalf("bad command answered %q, want an error", l)
		}
	}
}
