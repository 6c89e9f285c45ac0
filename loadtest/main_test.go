package loadtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// The command line end to end: a run with --json, --report and thresholds
// exits 1 when a threshold fails and writes both files.
func TestMainEndToEnd(t *testing.T) {
	srv := startNode(t)
	dir := t.TempDir()
	js, html := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	var out, errb bytes.Buffer
	code := Main([]string{"echo", srv.URL + "/echo", "--conns", "5", "--duration", "300ms",
		"--json", js, "--report", html, "--threshold", "p99<1ns", "--threshold", "loss<=0"}, &out, &errb)
	if code != ExitThreshold {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitThreshold, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "threshold p99<1ns") || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("summary lacks the threshold verdict:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "[   1s]") && !strings.Contains(errb.String(), "conns") {
		t.Logf("no progress line (run shorter than a second?):\n%s", errb.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Counters   stats.Counters          `json:"counters"`
		Latency    map[string]*stats.Hist  `json:"latency"`
		Thresholds []stats.ThresholdResult `json:"thresholds"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Counters.Delivered == 0 || r.Latency["message"].Count() != r.Counters.Delivered || len(r.Thresholds) != 2 ||
		r.Thresholds[0].Pass || !r.Thresholds[1].Pass {
		t.Errorf("json: %+v thresholds %+v", r.Counters, r.Thresholds)
	}
	if h, err := os.ReadFile(html); err != nil || !bytes.Contains(h, []byte("<svg")) {
		t.Errorf("report: %v", err)
	}
}
