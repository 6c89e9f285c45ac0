package main

// Tests that keep the documentation true to the code: the README's flag
// table against the flag set, links that stay inside the repository, no
// roadmap or tracker notes, docs/operations.md against the example
// systemd unit, and test/README.md against the files it describes.

import (
	"bufio"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// userDocs are the documents users read.
var userDocs = []string{"README.md", "docs/operations.md", "docs/architecture.md", "test/README.md", "loadtest/README.md",
	"deploy/wsgate.service", "deploy/wsgate.toml"}

func readDoc(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeFlagTable: the README's flag table lists every flag of the
// command, and no flag the command does not have.
func TestReadmeFlagTable(t *testing.T) {
	readme := readDoc(t, "README.md")
	i := strings.Index(readme, "\n## Flags\n")
	if i < 0 {
		t.Fatal("README has no ## Flags section")
	}
	section := readme[i+1:]
	if j := strings.Index(section, "\n## "); j > 0 {
		section = section[:j]
	}
	inTable := map[string]int{}
	flagRE := regexp.MustCompile("`-([a-z0-9][a-z0-9-]*)`")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Group") {
			continue
		}
		for _, m := range flagRE.FindAllStringSubmatch(line, -1) {
			inTable[m[1]]++
		}
	}
	if strings.Contains(section, "-*`") {
		t.Error("the flag table abbreviates flags with *: list each one")
	}
	cfg := config.Default()
	fs, _ := newFlagSet(&cfg, io.Discard)
	var missing []string
	fs.VisitAll(func(f *flag.Flag) {
		switch inTable[f.Name] {
		case 0:
			missing = append(missing, "-"+f.Name)
		case 1:
		default:
			t.Errorf("the README flag table lists -%s %d times", f.Name, inTable[f.Name])
		}
		delete(inTable, f.Name)
	})
	if len(missing) > 0 {
		t.Errorf("the README flag table lacks %s", strings.Join(missing, ", "))
	}
	for name := range inTable {
		t.Errorf("the README flag table lists -%s, which is no flag", name)
	}
}

// TestDocLinksStayInRepo: every relative link in the user documents names
// a file or directory inside the repository; the README links nowhere
// else.
func TestDocLinksStayInRepo(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	linkRE := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range userDocs {
		if !strings.HasSuffix(doc, ".md") {
			continue
		}
		for _, m := range linkRE.FindAllStringSubmatch(readDoc(t, doc), -1) {
			target := m[1]
			switch {
			case strings.HasPrefix(target, "#"):
				continue
			case strings.Contains(target, "://"):
				if doc == "README.md" {
					t.Errorf("README.md links outside the repository: %s", target)
				}
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			abs := filepath.Join(root, filepath.Dir(doc), target)
			if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links outside the repository: %s", doc, m[1])
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, m[1])
			}
		}
	}
}

// TestDocsSpeakOfTheProduct: no roadmap notes, tracker references, paths
// outside the repository, or parts that do not exist.
func TestDocsSpeakOfTheProduct(t *testing.T) {
	bad := []*regexp.Regexp{
		regexp.MustCompile(`(?i)\bissue\s*#?\d+`),
		regexp.MustCompile(`(?i)\buntil\b[^.]{0,60}\bland\b`),
		regexp.MustCompile(`(?i)\bfor now\b`),
		regexp.MustCompile(`\bTODO\b`),
		regexp.MustCompile(`(?i)\broadmap\b|\bcoming soon\b`),
		// An absolute path of the machine the text was written on.
		regexp.MustCompile("(^|[\\s(`'\"])/(work|home|root)/"),
		// Origins are compared as what they are (scheme, host and port, or
		// host and port against Host), not as a loose "same origin".
		regexp.MustCompile(`(?i)\bsame[- ](origin|host)\b`),
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "internal/broker")); err != nil {
		bad = append(bad, regexp.MustCompile(`(?i)\bbroker\b`)) // no broker exists to speak of
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	mdFiles := repoMarkdown(t, root)
	upRE := regexp.MustCompile(`(?:\.\./)+[\w./-]*`)
	mdRE := regexp.MustCompile(`\b[A-Za-z][\w-]*\.md\b`)
	for _, doc := range userDocs {
		for n, line := range strings.Split(readDoc(t, doc), "\n") {
			for _, re := range bad {
				if m := re.FindString(line); m != "" {
					t.Errorf("%s:%d says %q: %s", doc, n+1, m, strings.TrimSpace(line))
				}
			}
			// A path that climbs out of the document's directory names
			// something inside the repository, linked or not.
			for _, m := range upRE.FindAllString(line, -1) {
				abs := filepath.Join(root, filepath.Dir(doc), m)
				if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("%s:%d names %q, outside the repository: %s", doc, n+1, m, strings.TrimSpace(line))
				} else if _, err := os.Stat(abs); err != nil {
					t.Errorf("%s:%d names %q, which the repository does not have: %s", doc, n+1, m, strings.TrimSpace(line))
				}
			}
			// A document named is one the repository has.
			for _, m := range mdRE.FindAllString(line, -1) {
				if !mdFiles[m] {
					t.Errorf("%s:%d names %s, which the repository does not have: %s", doc, n+1, m, strings.TrimSpace(line))
				}
			}
		}
	}
}

// repoMarkdown returns the base names of the repository's Markdown files.
func repoMarkdown(t *testing.T, root string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			names[d.Name()] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// unitDirectives reads a systemd unit into directive -> values.
func unitDirectives(t *testing.T, text string) map[string][]string {
	t.Helper()
	d := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line %q is no directive", line)
		}
		d[k] = append(d[k], v)
	}
	return d
}

// TestOperationsMatchesUnit: what docs/operations.md says of the example
// unit is what the unit says: every `Directive=value` it quotes for a
// directive the unit sets has the unit's value, no directive the unit
// sets is called unset, and the figures the guide relies on agree.
func TestOperationsMatchesUnit(t *testing.T) {
	unit := unitDirectives(t, readDoc(t, "deploy/wsgate.service"))
	ops := readDoc(t, "docs/operations.md")
	quoted := regexp.MustCompile("`([A-Z][A-Za-z]+)=([^`]*)`")
	for _, m := range quoted.FindAllStringSubmatch(ops, -1) {
		vals, set := unit[m[1]]
		if !set || m[2] == "" {
			continue // a directive the guide suggests, or one named without a value
		}
		found := false
		for _, v := range vals {
			found = found || v == m[2]
		}
		if !found {
			t.Errorf("docs/operations.md quotes %s=%s; the unit has %s=%v", m[1], m[2], m[1], vals)
		}
	}
	unsetRE := regexp.MustCompile("`([A-Z][A-Za-z]+)` is (unset|not set)")
	for _, m := range unsetRE.FindAllStringSubmatch(ops, -1) {
		if _, set := unit[m[1]]; set {
			t.Errorf("docs/operations.md says %s is unset; the unit sets it to %v", m[1], unit[m[1]])
		}
	}
	if _, ok := unit["ExecReload"]; ok && !strings.Contains(ops, "`ExecReload`") {
		t.Error("the unit sets ExecReload; docs/operations.md does not say what reload does")
	}
	for _, want := range []string{"RestartPreventExitStatus=2", "LimitNOFILE=1048576", "KillSignal=SIGTERM"} {
		k, v, _ := strings.Cut(want, "=")
		if got := unit[k]; len(got) != 1 || got[0] != v {
			t.Errorf("the unit has %s=%v; the guide relies on %s", k, got, want)
		}
	}
	// The unit's stop timeout must outlast its drain timeout.
	if got := unit["Environment"]; !contains(got, "WSGATE_DRAIN_TIMEOUT=30s") || !contains(unit["TimeoutStopSec"], "45s") {
		t.Errorf("the unit's drain timeout and TimeoutStopSec are not the 30s and 45s the guide explains: %v %v", got, unit["TimeoutStopSec"])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestTestReadmeMatchesFiles: every test/ path test/README.md names
// exists, and every client script and Go test file under test/ is named.
func TestTestReadmeMatchesFiles(t *testing.T) {
	doc := readDoc(t, "test/README.md")
	pathRE := regexp.MustCompile(`\btest/[A-Za-z0-9_./-]+`)
	for _, p := range pathRE.FindAllString(doc, -1) {
		p = strings.TrimRight(p, ".,")
		if _, err := os.Stat(filepath.Join(repoRoot, p)); err != nil {
			t.Errorf("test/README.md names %s, which does not exist", p)
		}
	}
	var files []string
	for _, pat := range []string{"test/node/*.js", "test/python/*.py"} {
		m, _ := filepath.Glob(filepath.Join(repoRoot, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(repoRoot, f)
		if !strings.Contains(doc, rel) {
			t.Errorf("test/README.md does not describe %s", rel)
		}
	}
	testRE := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(t \*testing\.T\)`)
	gofiles, _ := filepath.Glob(filepath.Join(repoRoot, "test/interop/*_test.go"))
	for _, f := range gofiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range testRE.FindAllStringSubmatch(string(b), -1) {
			if !strings.Contains(doc, "`"+m[1]+"`") {
				t.Errorf("test/README.md does not describe %s (%s)", m[1], filepath.Base(f))
			}
		}
	}
}
