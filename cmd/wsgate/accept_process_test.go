package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/internal/wstest"
)

// setNofile sets the soft descriptor limit of process pid (prlimit(2)).
func setNofile(t *testing.T, pid int, soft uint64) {
	t.Helper()
	var old syscall.Rlimit
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE, 0, uintptr(unsafe.Pointer(&old)), 0, 0); e != 0 {
		t.Fatalf("prlimit: %v", e)
	}
	lim := syscall.Rlimit{Cur: soft, Max: old.Max}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE, uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
		t.Fatalf("prlimit: %v", e)
	}
}

// openFDs counts the descriptors process pid holds.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestAcceptOutOfDescriptorsProcess lowers a running wsgate's descriptor
// limit to what it holds plus 16, then opens 64 TCP connections to it:
// its accepts fail with EMFILE. The failures are logged once when the
// burst begins and once, with their count, when it is over (the first
// accept after a second without failures, once the clients hung up),
// counted in
// wsgate_accept_errors_total{errno="EMFILE"}, and a new client is then
// upgraded as usual.
func TestAcceptOutOfDescriptorsProcess(t *testing.T) {
	srv := startWsgate(t, nil, "-log-format", "json")
	pid := srv.cmd.Process.Pid
	setNofile(t, pid, uint64(openFDs(t, pid)+16))
	var conns []net.Conn
	for i := range 64 {
		c, err := net.DialTimeout("tcp", srv.addr, 10*time.Second)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	wstest.WaitFor(t, 30*time.Second, "the failed accepts logged", func() bool {
		return strings.Contains(srv.stderr.String(), `"accept failing`)
	})
	for _, c := range conns {
		c.Close()
	}
	// The accepted clients' hang-ups free descriptors; the next accept
	// succeeds and ends the burst.
	c, err := tryDialUpgrade(srv.addr, "/echo", 0)
	for i := 0; err != nil && i < 100; i++ {
		time.Sleep(100 * time.Millisecond)
		c, err = tryDialUpgrade(srv.addr, "/echo", 0)
	}
	if err != nil {
		t.Fatalf("no upgrade after the descriptors were freed: %v", err)
	}
	c.Close()
	// The first accept after a quiet second ends the burst.
	wstest.WaitFor(t, 30*time.Second, "the end of the burst logged", func() bool {
		if c, err := tryDialUpgrade(srv.addr, "/echo", 0); err == nil {
			c.Close()
		}
		return strings.Contains(srv.stderr.String(), `"accept failures over"`)
	})
	log := srv.stderr.String()
	if n := strings.Count(log, `"accept failing`); n != 1 {
		t.Errorf("%d \"accept failing\" lines for one burst, want 1", n)
	}
	failed := srv.metric(t, `wsgate_accept_errors_total{errno="EMFILE"}`)
	t.Logf("%v accepts failed with EMFILE; log:\n%s", failed, grepLines(log, "accept"))
	if failed < 1 {
		t.Errorf(`wsgate_accept_errors_total{errno="EMFILE"} = %v, want at least 1`, failed)
	}
	if !strings.Contains(log, fmt.Sprintf(`"failed_accepts":%d`, int(failed))) {
		t.Errorf("the burst's end line does not carry its count %v", failed)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
