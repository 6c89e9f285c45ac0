package main

// In-process tests of the command line: run() with flags and environment
// twins, for the paths that return without serving (-help, -version,
// invalid configuration). The serving paths run the built binary as a
// child process (process_test.go).

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
)

func runArgs(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(args, &out)
	return code, out.String()
}

// TestInvalidConfigListsEveryProblem gives several bad values at once and
// expects each one named in one report and exit status 2.
func TestInvalidConfigListsEveryProblem(t *testing.T) {
	code, out := runArgs(t, "-anonymous", "-max-message", "0", "-listen", "foo", "-slow-policy", "bogus",
		"-log-level", "loud", "-drain-batch", "0", "-log-format", "xml")
	if code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	for _, want := range []string{"invalid configuration", "max-message 0", `listen "foo"`,
		`slow-policy "bogus"`, `log-level "loud"`, "drain-batch 0", `log-format "xml"`} {
		if !strings.Contains(out, want) {
			t.Errorf("report does not mention %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "config: "); n != 6 {
		t.Errorf("report lists %d problems, want 6:\n%s", n, out)
	}
}

func TestUnknownFlagExits2(t *testing.T) {
	code, out := runArgs(t, "-no-such-flag")
	if code != 2 || !strings.Contains(out, "no-such-flag") {
		t.Errorf("exit %d, output %q; want 2 naming the flag", code, out)
	}
}

// TestEnvTwins checks that WSGATE_* variables are applied, that a flag
// given on the command line wins over its twin, and that a bad twin value
// is reported with the variable's name.
func TestEnvTwins(t *testing.T) {
	t.Run("applied", func(t *testing.T) {
		// max-frame over max-message is invalid; the report quotes the
		// max-message value, which can only have come from the twin.
		t.Setenv("WSGATE_MAX_MESSAGE", "1MiB")
		code, out := runArgs(t, "-max-frame", "2MiB")
		if code != 2 || !strings.Contains(out, "max-message 1048576") {
			t.Errorf("exit %d, output:\n%s\nwant 2 and max-message 1048576 from WSGATE_MAX_MESSAGE", code, out)
		}
	})
	t.Run("flag wins", func(t *testing.T) {
		t.Setenv("WSGATE_MAX_MESSAGE", "4MiB")
		code, out := runArgs(t, "-max-message", "512KiB", "-max-frame", "1MiB")
		if code != 2 || !strings.Contains(out, "max-message 524288") {
			t.Errorf("exit %d, output:\n%s\nwant 2 and the flag's max-message 524288", code, out)
		}
	})
	t.Run("bad value", func(t *testing.T) {
		t.Setenv("WSGATE_MAX_MESSAGE", "lots")
		t.Setenv("WSGATE_DRAIN_INTERVAL", "soon")
		code, out := runArgs(t)
		if code != 2 {
			t.Errorf("exit status %d, want 2", code)
		}
		for _, want := range []string{"WSGATE_MAX_MESSAGE", `"lots"`, "WSGATE_DRAIN_INTERVAL", `"soon"`} {
			if !strings.Contains(out, want) {
				t.Errorf("report does not mention %s:\n%s", want, out)
			}
		}
	})
	t.Run("bad value and invalid flag together", func(t *testing.T) {
		// Every problem at once: a bad twin must not hide an invalid flag.
		t.Setenv("WSGATE_MAX_MESSAGE", "lots")
		code, out := runArgs(t, "-slow-policy", "bogus")
		if code != 2 {
			t.Errorf("exit status %d, want 2", code)
		}
		for _, want := range []string{"WSGATE_MAX_MESSAGE", `slow-policy "bogus"`} {
			if !strings.Contains(out, want) {
				t.Errorf("report does not mention %s:\n%s", want, out)
			}
		}
	})
}

func TestVersion(t *testing.T) {
	code, out := runArgs(t, "-version")
	if code != 0 || strings.TrimSpace(out) != "wsgate "+version {
		t.Errorf("-version: exit %d, output %q; want 0 and %q", code, out, "wsgate "+version)
	}
}

// TestHelpListsGroupsAndEnvNames checks that -help shows every flag once,
// under a group heading, with its environment twin.
func TestHelpListsGroupsAndEnvNames(t *testing.T) {
	code, out := runArgs(t, "-help")
	if code != 0 {
		t.Errorf("-help exit status %d, want 0", code)
	}
	for _, g := range []string{"Listener:", "Endpoints:", "Security:", "Admin:", "Outbound:", "Limits:",
		"Timeouts:", "Compression:", "Shutdown:", "Logging:", "Engine:"} {
		if !strings.Contains(out, "\n"+g+"\n") {
			t.Errorf("-help has no group heading %q", g)
		}
	}
	cfg := config.Default()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.Bind(fs)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if c := strings.Count(out, "\n  -"+f.Name+"\n"); c != 1 {
			t.Errorf("-help lists -%s %d times, want once", f.Name, c)
		}
		if !strings.Contains(out, "env "+config.EnvName(f.Name)+"\n") {
			t.Errorf("-help does not give %s for -%s", config.EnvName(f.Name), f.Name)
		}
		if strings.Contains(out, "["+strings.SplitN(strings.TrimPrefix(f.Usage, "["), "]", 2)[0]+"]") {
			t.Errorf("-help shows the raw [group] tag of -%s", f.Name)
		}
	})
	if n < 30 {
		t.Errorf("only %d flags bound; expected every tuning knob", n)
	}
	for _, want := range []string{"-drain-batch", "-drain-interval", "-drain-timeout", "-restart", "-reuseport",
		"-log-format", "-log-level", "-pprof", "-metrics", "WSGATE_MAX_MESSAGE", "-version"} {
		if !strings.Contains(out, want) {
			t.Errorf("-help does not mention %s", want)
		}
	}
}

// TestProductionListenerNeedsAuth: with no key, no -anonymous and no -dev
// there is no way to admit anyone, and wsgate says so instead of starting
// an open gateway. A "*" origin needs its own flag.
func TestProductionListenerNeedsAuth(t *testing.T) {
	code, out := runArgs(t, "-listen", "127.0.0.1:0", "-admin", "")
	if code != 2 || !strings.Contains(out, "no way to authenticate clients") {
		t.Errorf("exit %d, want 2 naming the missing auth:\n%s", code, out)
	}
	code, out = runArgs(t, "-anonymous", "-origins", "*", "-listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(out, "-allow-any-origin") {
		t.Errorf("exit %d, want 2 asking for -allow-any-origin:\n%s", code, out)
	}
}
