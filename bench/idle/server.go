package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server kinds.
const (
	kindFloor  = "floor"
	kindWSGate = "wsgate"
	// kindDeflate is wsgate again, with clients that negotiate
	// permessage-deflate and send one compressed message.
	kindDeflate = "wsgate+deflate"
)

// binaries are the servers built for this run.
type binaries struct {
	dir    string
	wsgate string
	floor  string
	// rev is `git describe --always --dirty` of the tree they were built
	// from, or "unknown".
	rev string
	// wsgateHelp is the output of `wsgate -help`, to pass only flags the
	// built version has.
	wsgateHelp string
}

// build compiles cmd/wsgate and bench/floor, from the module that holds the
// current directory, into a temporary directory.
func build() (*binaries, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return nil, fmt.Errorf("idle: run from inside the wsgate module (go env GOMOD: %q, %v)", gomod, err)
	}
	root := filepath.Dir(gomod)
	dir, err := os.MkdirTemp("", "wsgate-bench-idle-")
	if err != nil {
		return nil, err
	}
	b := &binaries{dir: dir, wsgate: filepath.Join(dir, "wsgate"), floor: filepath.Join(dir, "floor"), rev: "unknown"}
	if out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output(); err == nil {
		b.rev = strings.TrimSpace(string(out))
	}
	for _, t := range []struct{ out, pkg string }{{b.wsgate, "./cmd/wsgate"}, {b.floor, "./bench/floor"}} {
		cmd := exec.Command("go", "build", "-o", t.out, t.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("idle: go build %s: %v\n%s", t.pkg, err, out)
		}
	}
	help, _ := exec.Command(b.wsgate, "-help").CombinedOutput()
	b.wsgateHelp = string(help)
	return b, nil
}

// hasFlag reports whether the built wsgate has the flag -name.
func (b *binaries) hasFlag(name string) bool {
	return strings.Contains(b.wsgateHelp, "\n  -"+name+" ") || strings.Contains(b.wsgateHelp, "\n  -"+name+"\n")
}

func (b *binaries) remove() { os.RemoveAll(b.dir) }

// proc is one running server.
type proc struct {
	kind   string
	addr   string
	cmd    *exec.Cmd
	admin  string         // wsgate only: its admin listener, if the binary has -admin
	stdin  io.WriteCloser // floor only: the stats hook
	lines  chan string    // floor only: stdout lines after the banner
	stderr *tailBuffer
	waited chan struct{}
}

// serverEnv is the environment both servers run with: the harness's own,
// minus anything that would tune one runtime differently, plus one GOGC.
func serverEnv(gogc string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "GOGC", k == "GODEBUG", k == "GOMEMLIMIT", k == "GOMAXPROCS", strings.HasPrefix(k, "WSGATE_"):
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "GOGC="+gogc), extra...)
}

// startFloor starts the floor server on a free port with its stats hook on.
func startFloor(b *binaries, gogc string) (*proc, error) {
	cmd := exec.Command(b.floor, "-listen", "127.0.0.1:0")
	cmd.Env = serverEnv(gogc, "WSGATE_BENCH_STATS=1")
	p := &proc{kind: kindFloor, cmd: cmd, lines: make(chan string, 16)}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.stdin = stdin
	if err := p.start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	line, err := p.readLine(10 * time.Second)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("idle: floor did not start: %w; stderr: %s", err, p.stderr)
	}
	addr, ok := strings.CutPrefix(line, "floor listening ")
	if !ok {
		p.stop()
		return nil, fmt.Errorf("idle: floor: unexpected banner %q", line)
	}
	p.addr = addr
	return p, nil
}

// startWSGate starts bin/wsgate on a free port with no timers that act on
// idle connections: -ping-interval 0 -idle-timeout 0. The admin listener,
// if this version has one, also gets a free port (its default port may be
// taken by another run). extra flags come last, so they win; every other
// setting is wsgate's default.
func startWSGate(b *binaries, gogc string, extra []string, deflate bool) (*proc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-listen", addr, "-ping-interval", "0", "-idle-timeout", "0", "-anonymous", "-no-limits"}
	var adminAddr string
	if b.hasFlag("admin") {
		admin, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "-admin", admin)
		if b.hasFlag("pprof") {
			args = append(args, "-pprof")
		}
		adminAddr = admin
	}
	args = append(args, extra...)
	cmd := exec.Command(b.wsgate, args...)
	cmd.Env = serverEnv(gogc)
	p := &proc{kind: kindWSGate, cmd: cmd, addr: addr, admin: adminAddr}
	if deflate {
		p.kind = kindDeflate
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	if err := waitListening(addr, 10*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("idle: wsgate did not start: %w; stderr: %s", err, p.stderr)
	}
	return p, nil
}

func (p *proc) start() error {
	p.stderr = &tailBuffer{max: 4096}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("idle: start %s: %w", p.kind, err)
	}
	p.waited = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.waited) }()
	return nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	select {
	case <-p.waited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, then SIGKILL after 5 s, to this process only.
func (p *proc) stop() {
	if p.stdin != nil {
		_ = p.stdin.Close()
	}
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.waited
	}
}

func (p *proc) readLine(timeout time.Duration) (string, error) {
	select {
	case l, ok := <-p.lines:
		if !ok {
			return "", io.ErrUnexpectedEOF
		}
		return l, nil
	case <-time.After(timeout):
		return "", errors.New("timed out")
	}
}

// floorStats asks the floor's stats hook for its heap figures (after a GC
// inside the floor).
func (p *proc) floorStats() (*floorHeap, error) {
	if _, err := io.WriteString(p.stdin, "stats\n"); err != nil {
		return nil, err
	}
	line, err := p.readLine(10 * time.Second)
	if err != nil {
		return nil, fmt.Errorf("idle: floor stats: %w", err)
	}
	var st floorHeap
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		return nil, fmt.Errorf("idle: floor stats %q: %w", line, err)
	}
	return &st, nil
}

// wsgateHeap reads wsgate's heap figures the way the floor's stats hook
// does, right after a garbage collection: GET /debug/memstats?gc=1 on the
// admin listener (served with -pprof; it allocates next to nothing). It
// returns nil, nil when the binary has no admin listener or no such
// endpoint (an older wsgate).
func (p *proc) wsgateHeap() (*floorHeap, error) {
	if p.admin == "" {
		return nil, nil
	}
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + p.admin + "/debug/memstats?gc=1")
	if err != nil {
		return nil, fmt.Errorf("idle: wsgate memstats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	var st floorHeap
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("idle: wsgate memstats: status %d, %v", resp.StatusCode, err)
	}
	return &st, nil
}

// heapStats returns the server's heap figures after a collection inside
// it (nil for a wsgate without /debug/memstats).
func (p *proc) heapStats() (*floorHeap, error) {
	if p.kind == kindFloor {
		return p.floorStats()
	}
	return p.wsgateHeap()
}

// floorHeap mirrors bench/floor's Stats (and wsgate's /debug/memstats,
// which uses the same names).
type floorHeap struct {
	Conns      int64  `json:"conns"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
}

// freePort returns 127.0.0.1:PORT for a port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// waitListening dials addr until it accepts (the probe connection is
// closed at once, before any byte is sent).
func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			abort(c)
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.b.String())
}
