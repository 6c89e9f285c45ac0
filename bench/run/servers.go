package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errNotReady is returned when a server does not accept connections in time.
var errNotReady = errors.New("bench/run: server did not start listening")

// serverSpec describes how to start one server under test.
type serverSpec struct {
	// Name is the short name used in tables and file names.
	Name string
	// Deflate is whether the server can negotiate permessage-deflate.
	Deflate bool
	// Pkg is the peer's package under bench/peers/cmd, built as
	// peer-<Pkg>; "" for servers the harness does not build from there.
	Pkg string
	// argv returns the command line for a server on addr; admin is a free
	// address for servers with an admin listener.
	argv func(bin binaries, addr, admin string, deflate bool) []string
	// env holds extra environment entries.
	env func(bin binaries) []string
	// Floor marks bench/echofloor: not a server under test but what the
	// kernel alone charges for an echo. It runs only in the neutral
	// client's scenarios and is never a peer.
	Floor bool
}

// binaries are the paths of everything the harness built.
type binaries struct {
	Dir    string // temporary directory holding the Go binaries
	Repo   string // repository root
	WSLoad string
	Client string // bench/peers/cmd/benchclient, the neutral client
	Floor  string // bench/echofloor
	Node   string // node executable, "" when absent
}

// allServers lists wsgate first, then every peer, in report order.
func allServers() []serverSpec {
	// peer runs bench/peers/cmd/pkg as name with extra flags.
	peerOf := func(name, pkg string, deflate bool, extra ...string) serverSpec {
		return serverSpec{Name: name, Deflate: deflate, Pkg: pkg, argv: func(b binaries, addr, _ string, d bool) []string {
			args := append([]string{filepath.Join(b.Dir, "peer-"+pkg), "-addr", addr}, extra...)
			if d {
				args = append(args, "-deflate")
			}
			return args
		}}
	}
	peer := func(name string, deflate bool) serverSpec { return peerOf(name, name, deflate) }
	floor := func(name, io string) serverSpec {
		return serverSpec{Name: name, Floor: true, argv: func(b binaries, addr, _ string, _ bool) []string {
			return []string{b.Floor, "-addr", addr, "-io", io}
		}}
	}
	return []serverSpec{
		{Name: "wsgate", Deflate: true, argv: func(b binaries, addr, admin string, d bool) []string {
			return []string{filepath.Join(b.Dir, "wsgate"), "-listen", addr, "-admin", admin,
				"-ping-interval", "0", "-idle-timeout", "0", "-log-level", "warn", "-anonymous", "-no-limits",
				"-deflate=" + strconv.FormatBool(d), "-pprof"}
		}},
		peer("nbio", true),
		peerOf("nbio-mixed", "nbio", true, "-iomod", "mixed"),
		peer("quickws", true),
		peer("greatws", true),
		peer("gws", true),
		peer("gorilla", true),
		peer("gobwas", false),
		peer("coder", true),
		{Name: "node", Deflate: true, argv: func(b binaries, addr, _ string, d bool) []string {
			args := []string{b.Node, filepath.Join(b.Repo, "bench/peers/node/server.js"), "-addr", addr}
			if d {
				args = append(args, "-deflate")
			}
			return args
		}, env: func(b binaries) []string {
			return []string{"NODE_PATH=" + filepath.Join(b.Repo, "test/node/node_modules")}
		}},
		floor("floor-rw", "syscall"),
		floor("floor-ring", "ring"),
	}
}

// build compiles wsgate, wsload, the neutral client and the Go peers of
// specs into a temporary directory and finds node with npm ws (installing
// ws when it is missing).
func build(repo string, specs []serverSpec, logw *os.File) (binaries, error) {
	dir, err := os.MkdirTemp("", "wsgate-bench-")
	if err != nil {
		return binaries{}, err
	}
	b := binaries{Dir: dir, Repo: repo, WSLoad: filepath.Join(dir, "wsload"), Client: filepath.Join(dir, "benchclient"),
		Floor: filepath.Join(dir, "echofloor")}
	goBuild := func(wd, out, pkg string) error {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
		cmd.Dir = wd
		cmd.Stdout, cmd.Stderr = logw, logw
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", pkg, err)
		}
		return nil
	}
	if err := goBuild(repo, "wsgate", "./cmd/wsgate"); err != nil {
		return b, err
	}
	if err := goBuild(repo, "wsload", "./cmd/wsload"); err != nil {
		return b, err
	}
	if err := goBuild(repo, "echofloor", "./bench/echofloor"); err != nil {
		return b, err
	}
	peers := filepath.Join(repo, "bench/peers")
	if err := goBuild(peers, "benchclient", "./cmd/benchclient"); err != nil {
		return b, err
	}
	built := map[string]bool{}
	for _, s := range specs {
		if s.Pkg != "" && !built[s.Pkg] {
			built[s.Pkg] = true
			if err := goBuild(peers, "peer-"+s.Pkg, "./cmd/"+s.Pkg); err != nil {
				return b, err
			}
		}
		if s.Name == "node" {
			b.Node = findNode(repo, logw)
		}
	}
	return b, nil
}

// findNode returns the node executable when node and npm ws are usable,
// running `npm install` in test/node once when ws is missing.
func findNode(repo string, logw *os.File) string {
	node, err := exec.LookPath("node")
	if err != nil {
		return ""
	}
	ws := filepath.Join(repo, "test/node/node_modules/ws")
	if _, err := os.Stat(ws); err != nil {
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund")
		cmd.Dir = filepath.Join(repo, "test/node")
		cmd.Stdout, cmd.Stderr = logw, logw
		if cmd.Run() != nil {
			return ""
		}
	}
	return node
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// running is a started server process.
type running struct {
	cmd    *exec.Cmd
	Addr   string
	Admin  string
	stderr bytes.Buffer
}

// Pid is the server's process id.
func (r *running) Pid() int { return r.cmd.Process.Pid }

// start launches spec on a free port and waits until it accepts TCP
// connections (at most 15 s).
func start(spec serverSpec, b binaries, deflate bool) (*running, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	argv := spec.argv(b, addr, admin, deflate)
	r := &running{Addr: addr, Admin: admin}
	r.cmd = exec.Command(argv[0], argv[1:]...)
	r.cmd.Env = os.Environ()
	if spec.env != nil {
		r.cmd.Env = append(r.cmd.Env, spec.env(b)...)
	}
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	go drain(out)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			time.Sleep(300 * time.Millisecond) // let it finish starting up
			return r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	return nil, fmt.Errorf("%w: %s: %s", errNotReady, spec.Name, strings.TrimSpace(r.stderr.String()))
}

func drain(r interface{ Read([]byte) (int, error) }) {
	s := bufio.NewScanner(r)
	for s.Scan() {
	}
}

// stop sends SIGTERM and waits up to 5 s, then kills the process.
func (r *running) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
}

// cpuSeconds reads user+system CPU seconds of pid from /proc/PID/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
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
