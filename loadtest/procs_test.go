package loadtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// Two real worker processes (this test binary re-executed through
// TestMain) run a broadcast; the merged report must equal the sum of the
// workers' own reports, and nothing may be lost across processes.
func TestProcsMergeEqualsSumOfParts(t *testing.T) {
	srv := startNode(t)
	t.Setenv("WSLOAD_TEST_WORKER", "1")
	args := []string{"broadcast", srv.URL, "--conns", "40", "--publishers", "3", "--pub-rate", "150",
		"--duration", "700ms", "--drain", "3s", "--source-ips", "127.0.0.2-127.0.0.5"}
	cfg, _, err := parseArgs(args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	merged, parts, err := runProcs(ctx, os.Args[0], args, 2, cfg, nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || merged.Workers != 2 {
		t.Fatalf("%d parts, %d workers", len(parts), merged.Workers)
	}
	var sum stats.Counters
	var lat, hs int64
	for _, p := range parts {
		sum.Add(&p.Counters)
		lat += p.Latency["message"].Count()
		hs += p.Latency["handshake"].Count()
	}
	m := merged.Counters
	// Expected and Lost are derived after merging (every subscriber hears
	// every worker's publishers); the other counters are plain sums.
	sum.Expected, sum.Lost = m.Expected, m.Lost
	if m != sum {
		t.Errorf("merged counters\n %+v\nsum of parts\n %+v", m, sum)
	}
	if merged.Latency["message"].Count() != lat || merged.Latency["handshake"].Count() != hs {
		t.Errorf("merged histogram counts %d/%d, parts %d/%d", merged.Latency["message"].Count(),
			merged.Latency["handshake"].Count(), lat, hs)
	}
	if m.Subscribers != 40 || m.Published == 0 || m.Delivered != m.Published*40 || m.Lost != 0 {
		t.Errorf("subscribers %d published %d delivered %d lost %d", m.Subscribers, m.Published, m.Delivered, m.Lost)
	}
	var seriesOut int64
	for _, p := range merged.Series {
		seriesOut += p.MsgsOut
	}
	var partsOut int64
	for _, p := range parts {
		for _, q := range p.Series {
			partsOut += q.MsgsOut
		}
	}
	if seriesOut != partsOut {
		t.Errorf("merged series out %d, parts %d", seriesOut, partsOut)
	}
}
