package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// load runs Load over a fresh Config with the given environment and
// returns the Config and Load's error.
func load(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	c := Default()
	fs := flag.NewFlagSet("wsgate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Bind(fs)
	fs.Bool("version", false, "")
	err := Load(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return c, err
}

// TestEnvTwins sets one twin per case and checks the field it reaches.
func TestEnvTwins(t *testing.T) {
	for _, tc := range []struct {
		env  string
		val  string
		got  func(Config) any
		want any
	}{
		{"WSGATE_LISTEN", "0.0.0.0:80", func(c Config) any { return c.Listen }, "0.0.0.0:80"},
		{"WSGATE_ADMIN", "", func(c Config) any { return c.Admin }, ""}, // empty is a value: no admin listener
		{"WSGATE_MAX_MESSAGE", "1MiB", func(c Config) any { return c.MaxMessage }, int64(1 << 20)},
		{"WSGATE_MAX_HEADER", "4096", func(c Config) any { return c.MaxHeader }, 4096},
		{"WSGATE_DRAIN_TIMEOUT", "1m", func(c Config) any { return c.DrainTimeout }, time.Minute},
		{"WSGATE_RATE_MSGS", "2.5", func(c Config) any { return c.RateMsgs }, 2.5},
		{"WSGATE_WORKERS", "7", func(c Config) any { return c.Workers }, 7},
		{"WSGATE_ORIGINS", "https://a.example, https://*.b.example", func(c Config) any { return c.Origins }, []string{"https://a.example", "https://*.b.example"}},
		{"WSGATE_AUTH_JWKS_URL", "https://idp.example/jwks", func(c Config) any { return c.AuthJWKSURL }, "https://idp.example/jwks"},
		{"WSGATE_REUSEPORT", "true", func(c Config) any { return c.ReusePort }, true},
		{"WSGATE_REUSEPORT", "1", func(c Config) any { return c.ReusePort }, true},
		{"WSGATE_REUSEPORT", "t", func(c Config) any { return c.ReusePort }, true},
		{"WSGATE_REUSEPORT", "TRUE", func(c Config) any { return c.ReusePort }, true},
		{"WSGATE_REUSEPORT", "True", func(c Config) any { return c.ReusePort }, true},
		{"WSGATE_DEFLATE", "false", func(c Config) any { return c.Deflate }, false},
		{"WSGATE_DEFLATE", "0", func(c Config) any { return c.Deflate }, false},
		{"WSGATE_DEFLATE", "F", func(c Config) any { return c.Deflate }, false},
	} {
		c, err := load(t, map[string]string{tc.env: tc.val})
		if err != nil {
			t.Errorf("%s=%q: %v", tc.env, tc.val, err)
			continue
		}
		if got := tc.got(c); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s=%q: field is %#v, want %#v", tc.env, tc.val, got, tc.want)
		}
	}
}

// TestEnvTwinErrors: every bad twin is reported, each with its variable,
// its value and what was wanted.
func TestEnvTwinErrors(t *testing.T) {
	_, err := load(t, map[string]string{
		"WSGATE_REUSEPORT":      "yes",
		"WSGATE_MAX_MESSAGE":    "lots",
		"WSGATE_DRAIN_INTERVAL": "soon",
		"WSGATE_WORKERS":        "many",
		"WSGATE_VERSION":        "x", // not a setting: ignored
	})
	if err == nil {
		t.Fatal("Load accepted bad twins")
	}
	msg := err.Error()
	for _, want := range []string{
		`WSGATE_REUSEPORT="yes": want true or false (also 1, t, T, TRUE, True; 0, f, F, FALSE, False)`,
		`WSGATE_MAX_MESSAGE="lots": want a byte size`,
		`WSGATE_DRAIN_INTERVAL="soon": want a duration`,
		`WSGATE_WORKERS="many": want a whole number`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("report does not say %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "config: "); n != 4 {
		t.Errorf("report holds %d problems, want 4:\n%s", n, msg)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "max-message = \"2MiB\"\nmax-header = 1024\nworkers = 3\n")
	env := map[string]string{"WSGATE_CONFIG": file, "WSGATE_MAX_MESSAGE": "3MiB", "WSGATE_MAX_HEADER": "2048"}
	c, err := load(t, env, "-max-message", "4MiB")
	if err != nil {
		t.Fatal(err)
	}
	// flag > twin > file > default
	if c.MaxMessage != 4<<20 || c.MaxHeader != 2048 || c.Workers != 3 || c.Pollers != Default().Pollers {
		t.Errorf("max-message %d (want flag's 4MiB), max-header %d (want twin's 2048), workers %d (want file's 3), pollers %d (want default)",
			c.MaxMessage, c.MaxHeader, c.Workers, c.Pollers)
	}
	if c.File != file {
		t.Errorf("File = %q, want %q", c.File, file)
	}
}

func TestConfigFile(t *testing.T) {
	file := writeFile(t, `
# a comment
listen = "0.0.0.0:8443"
admin = ""
origins = ["https://app.example.com", "https://*.example.com"]
subprotocols = "v2.chat, v1.chat"
reuseport = true
rate-msgs = 12.5
send-queue = 1048576
drain-interval = "250ms"

[auth]
key-file = ["a=/etc/wsgate/a.pem", "b=/etc/wsgate/b.pem"]
leeway = "10s"
`)
	c, err := load(t, nil, "-config", file)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.File = file
	want.Listen, want.Admin, want.ReusePort, want.RateMsgs, want.SendQueue = "0.0.0.0:8443", "", true, 12.5, 1<<20
	want.Origins = []string{"https://app.example.com", "https://*.example.com"}
	want.Subprotocols = []string{"v2.chat", "v1.chat"}
	want.DrainInterval = 250 * time.Millisecond
	want.AuthKeyFiles = []string{"a=/etc/wsgate/a.pem", "b=/etc/wsgate/b.pem"}
	want.AuthLeeway = 10 * time.Second
	if !reflect.DeepEqual(c, want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", c, want)
	}
}

// TestConfigFileErrors: every problem in a file is reported with the
// file's name, the key and what was wanted.
func TestConfigFileErrors(t *testing.T) {
	file := writeFile(t, `
max-mesage = "1MiB"
drain-timeout = 30
reuseport = "yes"
origins = [["nested"]]
config = "/etc/other.toml"
version = true
auth-leeway = "1s"
[auth]
leeway = "2s"
`)
	_, err := load(t, nil, "-config", file)
	if err == nil {
		t.Fatal("Load accepted a bad file")
	}
	msg := err.Error()
	for _, want := range []string{
		`unknown setting "max-mesage"`,
		"drain-timeout = 30: want a duration",
		"reuseport = yes: want true or false",
		"origins = [[nested]]: a list holds plain values",
		"cannot name another (config)",
		`unknown setting "version"`,
		"auth-leeway is given twice",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("report does not say %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "config: "+file); n != 7 {
		t.Errorf("report holds %d problems naming the file, want 7:\n%s", n, msg)
	}

	_, err = load(t, nil, "-config", writeFile(t, "listen = \"a\"\nlisten = \"b\"\n"))
	if err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("a TOML syntax error should give the line: %v", err)
	}
	_, err = load(t, nil, "-config", filepath.Join(t.TempDir(), "missing.toml"))
	if err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("a missing file should be named: %v", err)
	}
}

func TestPositionalArgument(t *testing.T) {
	_, err := load(t, nil, "-anonymous", "serve")
	var ue *UsageError
	if !asUsage(err, &ue) || ue.Printed || !strings.Contains(err.Error(), `unexpected argument "serve"`) {
		t.Errorf("Load with a stray argument: %v; want an unprinted *UsageError naming it", err)
	}
	_, err = load(t, nil, "-max-message")
	if !asUsage(err, &ue) || !ue.Printed {
		t.Errorf("Load with a flag missing its value: %v; want a printed *UsageError", err)
	}
}

func asUsage(err error, ue **UsageError) bool {
	u, ok := err.(*UsageError)
	*ue = u
	return ok
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wsgate.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
