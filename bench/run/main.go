// Command run is wsgate's side-by-side benchmark harness: it
// builds wsgate, wsload and the peer servers in bench/peers, then for every
// scenario runs each server as a child process on 127.0.0.1:<free port>,
// in a rotating order over N rounds so drift hits all alike, drives it with
// wsload (--json, --server-pid) and stops it by its pid. Every wsload JSON
// is kept under bench/results/<date>-<commit>/, with results.json, SVG
// charts, and the tables written into bench/RESULTS.md.
//
//	go run ./bench/run -quick               # make bench-quick: < 5 minutes
//	go run ./bench/run                      # make bench: the full set
//	go run ./bench/run -compare OLD NEW     # ratios between two kept runs
//	go run ./bench/run -only echo -servers wsgate,nbio -rounds 1
//	go run ./bench/run -quick -servers all  # every peer in the quick set
//
// Echo and connect scenarios whose id ends in -nc are driven by the
// neutral client, bench/peers/cmd/benchclient, instead of wsload; the
// harness reads the server's CPU time and memory exactly around the
// window the client announces.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bench/internal/procmem"
)

// meta describes a kept run.
type meta struct {
	Date    string            `json:"date"`
	Commit  string            `json:"commit"`
	Plan    string            `json:"plan"`
	Command string            `json:"command,omitempty"`
	Rounds  int               `json:"rounds"`
	Servers []string          `json:"servers"`
	Machine procmem.Machine   `json:"machine"`
	Elapsed string            `json:"elapsed"`
	Titles  map[string]string `json:"titles"`
	Kinds   map[string]kind   `json:"kinds"`
	Order   []string          `json:"order"`
	// Rows names the rows of the scenarios that compare variants of
	// wsgate instead of servers (STOMP against raw /room).
	Rows map[string][]string `json:"rows,omitempty"`
	// Floors names the rows of bench/echofloor, which are no peers.
	Floors []string `json:"floors,omitempty"`
}

// kept is the whole of results.json.
type kept struct {
	Meta    meta     `json:"meta"`
	Results []result `json:"results"`
}

func main() { os.Exit(mainErr()) }

func mainErr() int {
	quick := flag.Bool("quick", false, "reduced set: 1,000 connections, 5 s runs, 1 round, 6 servers")
	compare := flag.Bool("compare", false, "print ratios between two kept runs: -compare OLD_DIR NEW_DIR")
	rounds := flag.Int("rounds", 0, "rounds (0: the plan's)")
	servers := flag.String("servers", "", "comma-separated servers, or all (default: the plan's)")
	only := flag.String("only", "", "run only scenarios whose id contains this")
	out := flag.String("out", "", "run directory (default bench/results/<date>-<commit>)")
	results := flag.String("results", "bench/RESULTS.md", "markdown file to write the tables into (empty: none)")
	report := flag.String("report", "", "only rewrite RESULTS.md and the charts from the kept run in this directory")
	prof := flag.Int("profile", 0, "take an N-second CPU profile of every wsgate run (-pprof on its admin listener)")
	flag.Parse()

	if *compare {
		if flag.NArg() != 2 {
			fmt.Fprintln(os.Stderr, "usage: run -compare OLD_DIR NEW_DIR")
			return 2
		}
		if err := compareRuns(os.Stdout, flag.Arg(0), flag.Arg(1)); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			return 1
		}
		return 0
	}

	if *report != "" {
		if err := rerender(*report, *results); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			return 1
		}
		return 0
	}

	p, planName := fullPlan(), "full"
	if *quick {
		p, planName = quickPlan(), "quick"
	}
	if *rounds > 0 {
		p.Rounds = *rounds
	}
	switch *servers {
	case "":
	case "all":
		p.Servers = serverNames()
	default:
		p.Servers = strings.Split(*servers, ",")
	}
	if *only != "" {
		planName += " (" + *only + " only)" // its own RESULTS.md section
		var keep []scenario
		for _, sc := range p.Scenarios {
			if strings.Contains(sc.ID, *only) {
				keep = append(keep, sc)
			}
		}
		p.Scenarios = keep
	}
	repo, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	commit := gitOut(repo, "rev-parse", "--short", "HEAD")
	if gitOut(repo, "status", "--porcelain", "--untracked-files=no") != "" {
		commit += "-dirty"
	}
	now := time.Now().UTC()
	dir := *out
	if dir == "" {
		dir = filepath.Join(repo, "bench/results", now.Format("2006-01-02T1504")+"-"+commit)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	logf, err := os.Create(filepath.Join(dir, "log.txt"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	defer logf.Close()

	specs := pickServers(p.Servers)
	fmt.Fprintf(os.Stderr, "building into a temporary directory (log: %s)\n", logf.Name())
	bin, err := build(repo, specs, logf)
	defer os.RemoveAll(bin.Dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	if hasServer(specs, "node") && bin.Node == "" {
		fmt.Fprintln(os.Stderr, "run: node or npm ws unavailable: skipping the node peer")
		specs = without(specs, "node")
	}
	m := meta{Date: now.Format("2006-01-02 15:04 UTC"), Commit: commit, Plan: planName, Rounds: p.Rounds, Command: command(),
		Machine: procmem.Describe(), Titles: map[string]string{}, Kinds: map[string]kind{}}
	for _, s := range specs {
		m.Servers = append(m.Servers, s.Name)
		if s.Floor {
			m.Floors = append(m.Floors, s.Name)
		}
	}
	r := &runner{Bin: bin, Dir: dir, ProfileSec: *prof, Log: logf}
	var all []result
	for _, sc := range p.Scenarios {
		m.Titles[sc.ID], m.Kinds[sc.ID] = sc.Title, sc.Kind
		m.Order = append(m.Order, sc.ID)
		if len(sc.Variants) > 0 {
			all = append(all, r.runAllVariants(sc, specs, p.Rounds, &m)...)
			continue
		}
		for round := 1; round <= p.Rounds; round++ {
			for i := range specs {
				spec := specs[(i+round-1)%len(specs)]
				if (sc.Deflate && !spec.Deflate) || (spec.Floor && !sc.Kind.neutral()) {
					continue
				}
				t0 := time.Now()
				res := r.runOne(sc, spec, round)
				all = append(all, res)
				fmt.Fprintf(os.Stderr, "%-24s r%d %-8s %5.1fs %s\n", sc.ID, round, spec.Name,
					time.Since(t0).Seconds(), headline(sc.Kind, res))
			}
		}
	}
	m.Elapsed = time.Since(now).Round(time.Second).String()
	k := kept{Meta: m, Results: all}
	if err := writeJSON(filepath.Join(dir, "results.json"), k); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	if err := writeCharts(dir, k); err != nil {
		fmt.Fprintln(os.Stderr, "run: charts:", err)
	}
	if *results != "" {
		if err := updateMarkdown(resultsPath(repo, *results), dir, k); err != nil {
			fmt.Fprintln(os.Stderr, "run: markdown:", err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "done in %s: %s\n", m.Elapsed, dir)
	return 0
}

// runAllVariants runs a variant scenario's rounds against wsgate, if it
// is among specs, and records its rows in m.
func (r *runner) runAllVariants(sc scenario, specs []serverSpec, rounds int, m *meta) []result {
	var wsgate *serverSpec
	for i := range specs {
		if specs[i].Name == "wsgate" {
			wsgate = &specs[i]
		}
	}
	if wsgate == nil {
		fmt.Fprintf(os.Stderr, "%-24s skipped: wsgate is not among the servers\n", sc.ID)
		return nil
	}
	if m.Rows == nil {
		m.Rows = map[string][]string{}
	}
	for _, v := range sc.Variants {
		m.Rows[sc.ID] = append(m.Rows[sc.ID], v.Name)
	}
	var all []result
	for round := 1; round <= rounds; round++ {
		all = append(all, r.runVariants(sc, *wsgate, round, func(res result, took time.Duration) {
			fmt.Fprintf(os.Stderr, "%-24s r%d %-14s %5.1fs %s\n", sc.ID, round, res.Server, took.Seconds(), headline(sc.Kind, res))
		})...)
	}
	return all
}

// headline formats a result's first figure for the progress line.
func headline(k kind, res result) string {
	if res.Metrics == nil {
		return "error: " + res.Err
	}
	mt := k.metrics()[0]
	s := fmt.Sprintf("%s %.0f", mt.Label, res.Metrics[mt.Key])
	if res.Err != "" {
		s += " (" + res.Err + ")"
	}
	return s
}

func pickServers(names []string) []serverSpec {
	var out []serverSpec
	for _, n := range names {
		for _, s := range allServers() {
			if s.Name == strings.TrimSpace(n) {
				out = append(out, s)
			}
		}
	}
	return out
}

// command is the harness's command line as a reader would retype it.
func command() string {
	args := append([]string{"go run ./bench/run"}, os.Args[1:]...)
	return strings.Join(args, " ")
}

func hasServer(specs []serverSpec, name string) bool {
	for _, s := range specs {
		if s.Name == name {
			return true
		}
	}
	return false
}

func without(specs []serverSpec, name string) []serverSpec {
	var out []serverSpec
	for _, s := range specs {
		if s.Name != name {
			out = append(out, s)
		}
	}
	return out
}

func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("not in a git checkout: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func gitOut(dir string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// resultsPath makes a RESULTS.md path relative to the repository absolute.
func resultsPath(repo, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(repo, p)
}

// rerender rewrites the charts of the kept run in dir and its section of
// the markdown file.
func rerender(dir, results string) error {
	k, err := readKept(dir)
	if err != nil {
		return err
	}
	if err := writeCharts(dir, k); err != nil {
		return err
	}
	if results == "" {
		return nil
	}
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	return updateMarkdown(resultsPath(repo, results), abs, k)
}

func readKept(dir string) (kept, error) {
	var k kept
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return k, err
	}
	return k, json.Unmarshal(b, &k)
}
