package main

import (
	"bufio"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
)

// settingLine is a commented-out setting in deploy/wsgate.toml.
var settingLine = regexp.MustCompile(`^# ([a-z0-9-]+) = (.*)$`)

// TestExampleConfigHoldsEverySetting: deploy/wsgate.toml names every
// setting once, and with its lines uncommented it loads to the defaults
// (pollers and workers, which depend on the machine, aside).
func TestExampleConfigHoldsEverySetting(t *testing.T) {
	f, err := os.Open("../../deploy/wsgate.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var active strings.Builder
	seen := map[string]int{}
	described := map[string]string{} // setting -> the comment line above it
	last := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := settingLine.FindStringSubmatch(line); m != nil {
			seen[m[1]]++
			described[m[1]] = last
			active.WriteString(m[1] + " = " + m[2] + "\n")
		} else if strings.HasPrefix(line, "# ") && !strings.HasPrefix(line, "# (default") {
			last = strings.TrimPrefix(line, "# ")
		}
	}
	cfg := config.Default()
	fs, _ := newFlagSet(&cfg, io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		usage := f.Usage
		if i := strings.IndexByte(usage, ']'); strings.HasPrefix(usage, "[") && i > 0 {
			usage = strings.TrimSpace(usage[i+1:])
		}
		if seen[f.Name] == 1 && described[f.Name] != usage {
			t.Errorf("deploy/wsgate.toml describes %s as %q; -help says %q", f.Name, described[f.Name], usage)
		}
	})
	fs.VisitAll(func(f *flag.Flag) {
		if !config.NotSettings[f.Name] && f.Name != "config" && seen[f.Name] != 1 {
			t.Errorf("deploy/wsgate.toml names %s %d times, want once", f.Name, seen[f.Name])
		}
		delete(seen, f.Name)
	})
	for k := range seen {
		t.Errorf("deploy/wsgate.toml names %s, which is no setting", k)
	}
	file := filepath.Join(t.TempDir(), "all.toml")
	if err := os.WriteFile(file, []byte(active.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := config.Load(fs, []string{"-config", file}, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatalf("every setting uncommented: %v", err)
	}
	want := config.Default()
	want.File = file
	cfg.Pollers, cfg.Workers = want.Pollers, want.Workers
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("every setting uncommented loads\n%+v\nwant the defaults\n%+v", cfg, want)
	}
}
