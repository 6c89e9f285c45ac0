package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMakeInstall stages `make install` in a temporary DESTDIR and checks
// that the installed unit points at the installed binary and docs, that
// the example configuration lands in /etc/wsgate once (an edited one is
// kept), and that PREFIX moves the binary and the unit's ExecStart along.
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not found")
	}
	install := func(dest string, vars ...string) {
		t.Helper()
		args := append([]string{"-C", repoRoot, "--no-print-directory", "install", "DESTDIR=" + dest}, vars...)
		if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
	}
	dest := t.TempDir()
	install(dest)
	unit, err := os.ReadFile(filepath.Join(dest, "etc/systemd/system/wsgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	d := unitDirectives(t, string(unit))
	bin := strings.Fields(d["ExecStart"][0])[0]
	if bin != "/usr/local/bin/wsgate" {
		t.Errorf("ExecStart runs %s, want /usr/local/bin/wsgate", bin)
	}
	out, err := exec.Command(filepath.Join(dest, bin), "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "wsgate ") {
		t.Errorf("the installed binary: %v %q", err, out)
	}
	doc := strings.TrimPrefix(d["Documentation"][0], "file://")
	if _, err := os.Stat(filepath.Join(dest, doc)); err != nil {
		t.Errorf("the unit's Documentation=%s is not installed: %v", doc, err)
	}
	cfgRE := regexp.MustCompile(`-config (\S+)`)
	m := cfgRE.FindStringSubmatch(d["ExecStart"][0])
	if m == nil {
		t.Fatalf("ExecStart has no -config: %s", d["ExecStart"][0])
	}
	cfgFile := filepath.Join(dest, m[1])
	if _, err := os.Stat(cfgFile); err != nil {
		t.Fatalf("the unit's -config %s is not installed: %v", m[1], err)
	}
	// The installed binary accepts the installed configuration.
	if out, err := exec.Command(filepath.Join(dest, bin), "check", "-config", cfgFile, "-anonymous").CombinedOutput(); err != nil {
		t.Errorf("wsgate check on the installed configuration: %v\n%s", err, out)
	}
	// A second install keeps the operator's configuration.
	if err := os.WriteFile(cfgFile, []byte("max-message = \"1MiB\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	install(dest)
	if b, _ := os.ReadFile(cfgFile); string(b) != "max-message = \"1MiB\"\n" {
		t.Errorf("make install overwrote an edited %s", m[1])
	}

	other := t.TempDir()
	install(other, "PREFIX=/usr")
	unit, err = os.ReadFile(filepath.Join(other, "etc/systemd/system/wsgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	if bin := strings.Fields(unitDirectives(t, string(unit))["ExecStart"][0])[0]; bin != "/usr/bin/wsgate" {
		t.Errorf("with PREFIX=/usr, ExecStart runs %s", bin)
	}
	if _, err := os.Stat(filepath.Join(other, "usr/bin/wsgate")); err != nil {
		t.Errorf("with PREFIX=/usr: %v", err)
	}
}
