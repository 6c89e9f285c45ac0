package main

// In-process tests of the command line: run() with flags and environment
// twins, for the paths that return without serving (-help, -version,
// invalid configuration). The serving paths run the built binary as a
// child process (process_test.go).

import (
	"bytes"
	"flag"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

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
	want := "wsgate " + versionString()
	if code != 0 || strings.TrimSpace(out) != want || !strings.Contains(out, runtime.Version()) {
		t.Errorf("-version: exit %d, output %q; want 0 and %q", code, out, want)
	}
}

// TestVersionFromBuildInfo: without an -ldflags version, a go install
// build says its module version, a build from a checkout its revision.
func TestVersionFromBuildInfo(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}}
	for _, tc := range []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261125183000-0123456789ab"}}, "v0.0.0-20261125183000-0123456789ab"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: rev}, "dev-0123456789ab"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"})}, "dev-0123456789ab-dirty"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	} {
		if got := versionFrom(&tc.bi); got != tc.want {
			t.Errorf("versionFrom(%+v) = %q, want %q", tc.bi.Main, got, tc.want)
		}
	}
}

// TestHelpListsGroupsTypesAndEnvNames checks that -help shows every flag
// once, under a group heading, with its value type and its environment
// twin, and that boolean twins say which spellings they take.
func TestHelpListsGroupsTypesAndEnvNames(t *testing.T) {
	code, out := runArgs(t, "-help")
	if code != 0 {
		t.Errorf("-help exit status %d, want 0", code)
	}
	for _, g := range []string{"General:", "Listener:", "Endpoints:", "Security:", "Auth:", "Admin:", "Outbound:", "Limits:",
		"Timeouts:", "Compression:", "Shutdown:", "Logging:", "Engine:"} {
		if !strings.Contains(out, "\n"+g+"\n") {
			t.Errorf("-help has no group heading %q", g)
		}
	}
	cfg := config.Default()
	fs, _ := newFlagSet(&cfg, io.Discard)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		head := "\n  -" + f.Name + " " + config.FlagType(f) + "\n"
		if config.FlagType(f) == "bool" {
			head = "\n  -" + f.Name + "\n"
		}
		if c := strings.Count(out, head); c != 1 {
			t.Errorf("-help lists %q %d times, want once", strings.TrimSpace(head), c)
		}
		env := "env " + config.EnvName(f.Name)
		switch {
		case config.NotSettings[f.Name]:
			if strings.Contains(out, env+"\n") || strings.Contains(out, env+"=") {
				t.Errorf("-help gives %s, but -%s is not a setting", env, f.Name)
			}
		case config.FlagType(f) == "bool":
			if !strings.Contains(out, env+"=true|false (also 1/0, t/f, TRUE/FALSE, True/False)\n") {
				t.Errorf("-help does not give %s with its spellings", config.EnvName(f.Name))
			}
		case !strings.Contains(out, env+"\n"):
			t.Errorf("-help does not give %s for -%s", config.EnvName(f.Name), f.Name)
		}
		if strings.Contains(out, "["+strings.SplitN(strings.TrimPrefix(f.Usage, "["), "]", 2)[0]+"]") {
			t.Errorf("-help shows the raw [group] tag of -%s", f.Name)
		}
	})
	if n < 30 {
		t.Errorf("only %d flags bound; expected every tuning knob", n)
	}
	for _, want := range []string{"-max-message size\n", "-origins list\n", "-drain-timeout duration\n",
		"-rate-msgs float\n", "-workers int\n", "-listen string\n", "-config string\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("-help does not show %q", want)
		}
	}
}

// TestPositionalArgumentsExit2: wsgate takes flags only; a stray word (a
// flag value after a space in a unit file, a typo'd command) is an error.
func TestPositionalArgumentsExit2(t *testing.T) {
	for _, args := range [][]string{{"-anonymous", "serve"}, {"-anonymous", "-listen", "127.0.0.1:0", "extra"}, {"chek"}} {
		code, out := runArgs(t, args...)
		if code != 2 || !strings.Contains(out, "unexpected argument") {
			t.Errorf("%v: exit %d, output %q; want 2 and unexpected argument", args, code, out)
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

// TestLogDurations: JSON logs write durations as text, not integer
// nanoseconds (slog's default), so "interval":"100ms" reads as it is set.
func TestLogDurations(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		newLogger(&b, "info", format).Info("draining", "interval", 100*time.Millisecond, "timeout", 30*time.Second)
		out := b.String()
		for _, want := range map[string][]string{
			"json": {`"interval":"100ms"`, `"timeout":"30s"`},
			"text": {"interval=100ms", "timeout=30s"},
		}[format] {
			if !strings.Contains(out, want) {
				t.Errorf("%s log %q does not hold %s", format, out, want)
			}
		}
	}
}
