package wstest

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// BuildWsgate builds cmd/wsgate into dir (without the race detector: the
// binary is the server under test, not the code under test) and returns
// its path. ldflags, if not empty, is passed to go build -ldflags.
func BuildWsgate(dir, ldflags string) (string, error) {
	goBin := "go"
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goBin = filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
	}
	bin := filepath.Join(dir, "wsgate")
	args := []string{"build", "-o", bin}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	args = append(args, "github.com/wsgate/wsgate/cmd/wsgate")
	if out, err := exec.Command(goBin, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("wstest: go build ./cmd/wsgate: %v\n%s", err, out)
	}
	return bin, nil
}

// SyncBuffer collects a child process's output; it is safe for
// concurrent use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
