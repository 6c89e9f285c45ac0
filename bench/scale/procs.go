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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/bench/internal/procmem"
)

// proc is one child process the harness started; it is stopped by its
// own pid, never by name.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// procs are the children of one phase.
type procs struct {
	mu   sync.Mutex
	list []*proc
	dir  string // logs
}

// start runs bin with args, its output in dir/name.log.
func (ps *procs) start(name, bin string, args ...string) (*proc, error) {
	f, err := os.Create(filepath.Join(ps.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the harness
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: f}
	go func() { _ = cmd.Wait(); close(p.done); f.Close() }()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

// stopAll sends SIGTERM to every child by pid, waits up to grace for each,
// then SIGKILLs what is left.
func (ps *procs) stopAll(grace time.Duration) {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	for _, p := range list {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for _, p := range list {
		select {
		case <-p.done:
		case <-time.After(time.Until(deadline)):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// cpuSeconds is the process's user+system CPU time, from /proc/PID/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// rss is the process's resident memory in bytes (0 if it is gone).
func rss(pid int) int64 {
	m, err := procmem.Read(pid)
	if err != nil {
		return 0
	}
	return m.RSS
}

// sockstat is the kernel's TCP socket count and buffer memory, from
// /proc/net/sockstat, and its slab memory (socket structures, inodes,
// epoll entries and the rest), from /proc/meminfo.
type sockstat struct {
	InUse    int64 `json:"inuse"`
	MemPages int64 `json:"mem_pages"` // pages of socket buffers
	Slab     int64 `json:"slab"`      // bytes
}

func (s sockstat) bytes() int64 { return s.MemPages * int64(os.Getpagesize()) }

func readSockstat() sockstat {
	var s sockstat
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Slab:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				s.Slab = kb << 10
			}
		}
	}
	f, err := os.Open("/proc/net/sockstat")
	if err != nil {
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(fields); i += 2 {
			v, _ := strconv.ParseInt(fields[i+1], 10, 64)
			switch fields[i] {
			case "inuse":
				s.InUse = v
			case "mem":
				s.MemPages = v
			}
		}
	}
	return s
}

// freePort returns a loopback port free at the time of the call.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts connections.
func waitTCP(addr string, p *proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited (see its log)", p.name)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: %s not listening after %v", p.name, addr, d)
}

var httpc = &http.Client{Timeout: 30 * time.Second}

// getJSON decodes GET url into v.
func getJSON(url string, v any) error {
	resp, err := httpc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// nodeStats is what the harness reads of a node's GET /api/stats.
type nodeStats struct {
	Open        int64  `json:"open"`
	MessagesOut uint64 `json:"messages_out"`
	SlowClosed  uint64 `json:"slow_consumer_closed"`
}

// build compiles wsgate and wsload into dir.
func build(dir string) (wsgate, wsload string, err error) {
	wsgate, wsload = filepath.Join(dir, "wsgate"), filepath.Join(dir, "wsload")
	for out, pkg := range map[string]string{wsgate: "./cmd/wsgate", wsload: "./cmd/wsload"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return wsgate, wsload, nil
}

// findNATS locates the nats-server binary.
func findNATS(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	for _, p := range []string{"nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", errors.New("scale: nats-server not found (apt-get install nats-server, or -nats-server PATH)")
}
