package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/wsgate/wsgate/internal/config"
)

// version is set at build time with -ldflags "-X main.version=..."; when
// it is not, versionString asks the Go build information.
var version = "dev"

// commandFlags are the flags that steer the command, beside the settings.
type commandFlags struct {
	version *bool
	check   *bool
}

// newFlagSet binds cfg's settings and the command flags to a new flag set
// that reports to out.
func newFlagSet(cfg *config.Config, out io.Writer) (*flag.FlagSet, commandFlags) {
	fs := flag.NewFlagSet("wsgate", flag.ContinueOnError)
	fs.SetOutput(out)
	cfg.Bind(fs)
	cmd := commandFlags{
		version: fs.Bool("version", false, "[general] print the version and exit"),
		check:   fs.Bool("t", false, "[general] check the configuration and the files it names, then exit: 0 when usable, 2 listing every problem (same as wsgate check)"),
	}
	fs.Usage = func() { usage(out, fs) }
	return fs, cmd
}

// versionString is the -ldflags version when one was stamped (make build,
// make dist); otherwise the module version of a `go install
// module@version` build, or the VCS revision the binary was built from.
func versionString() string {
	v := version
	if v == "dev" {
		v = buildInfoVersion()
	}
	return v + " (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

func buildInfoVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return versionFrom(bi)
}

// versionFrom reads a version from build information: the main module's
// version ("v1.2.0", or a pseudo-version, for go install), else
// "dev-REVISION" with "-dirty" for a modified tree, else "dev".
func versionFrom(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	return "dev-" + rev[:min(12, len(rev))] + dirty
}

// newLogger builds the process's logger. Durations are written as text
// ("250ms", "30s"), as flags take them, in both formats: slog's JSON
// handler would otherwise write integer nanoseconds.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// usage prints the flags grouped by the [group] tag that starts each
// description, with each flag's value type and environment twin.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: wsgate [check] [flags]

wsgate is a WebSocket gateway. Settings come from flags, from their
environment twins (-max-message is %s), and from the
TOML file named by -config (keys are flag names: max-message = "1MiB"),
in that order of precedence. "wsgate check" (or -t) checks a
configuration and the files it names, then exits.

Value types: size takes B, KiB, MiB or GiB (64KiB); duration ms, s, m
or h (250ms, 30s); list is comma-separated; bool is true or false
(also 1, t, T, TRUE, True; 0, f, F, FALSE, False).
`, config.EnvName("max-message"))
	groups := map[string][]*flag.Flag{}
	fs.VisitAll(func(f *flag.Flag) {
		g := "general"
		if strings.HasPrefix(f.Usage, "[") {
			if i := strings.IndexByte(f.Usage, ']'); i > 0 {
				g = f.Usage[1:i]
			}
		}
		groups[g] = append(groups[g], f)
	})
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		fmt.Fprintf(w, "\n%s:\n", strings.ToUpper(g[:1])+g[1:])
		for _, f := range groups[g] {
			printFlag(w, f)
		}
	}
}

// printFlag writes one flag: its name and type, its description and
// default, and its environment twin (with the spellings a boolean takes).
func printFlag(w io.Writer, f *flag.Flag) {
	u := f.Usage
	if i := strings.IndexByte(u, ']'); strings.HasPrefix(u, "[") && i > 0 {
		u = strings.TrimSpace(u[i+1:])
	}
	def := ""
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "[]" {
		def = " (default " + f.DefValue + ")"
	}
	typ := config.FlagType(f)
	if typ == "bool" {
		fmt.Fprintf(w, "  -%s\n      %s%s\n", f.Name, u, def)
	} else {
		fmt.Fprintf(w, "  -%s %s\n      %s%s\n", f.Name, typ, u, def)
	}
	switch {
	case config.NotSettings[f.Name]:
	case typ == "bool":
		fmt.Fprintf(w, "      env %s=true|false (also 1/0, t/f, TRUE/FALSE, True/False)\n", config.EnvName(f.Name))
	default:
		fmt.Fprintf(w, "      env %s\n", config.EnvName(f.Name))
	}
}
