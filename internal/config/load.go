package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// NotSettings are flags that steer the command rather than configure the
// server: they have no environment twin and no key in a configuration
// file.
var NotSettings = map[string]bool{"help": true, "version": true, "t": true}

// Load fills the settings bound to fs (see Bind) from three sources, each
// overriding the next: the command-line args, the WSGATE_* environment
// twins (looked up with lookup; nil means os.LookupEnv), and the TOML file
// named by -config (or WSGATE_CONFIG). Flags nobody set keep their
// defaults.
//
// A flag that does not parse on the command line is returned at once as a
// *UsageError (wrapping flag.ErrHelp for -help); so is a positional
// argument, which wsgate never takes. Past the command line, every bad
// twin value, unknown file key and bad file value is reported, joined
// into one error. Call Validate afterwards for the settings' consistency.
//
// The layering is ours rather than a library's (peterbourgon/ff v3 does
// the same walk) for two reasons: every problem is reported at once, where
// ff stops at the first; and an empty twin (WSGATE_ADMIN= turns the admin
// listener off) is a value, where ff reads empty as unset.
func Load(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return &UsageError{Err: err, Printed: true}
	}
	if fs.NArg() > 0 {
		return &UsageError{Err: fmt.Errorf("config: unexpected argument %q: every setting is a -flag (-help lists them)", fs.Arg(0))}
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || NotSettings[f.Name] {
			return
		}
		v, ok := lookup(EnvName(f.Name))
		if !ok {
			return
		}
		set[f.Name] = true
		if err := setFlag(fs, f, v); err != nil {
			errs = append(errs, fmt.Errorf("config: %s=%q: %v", EnvName(f.Name), v, err))
		}
	})
	if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
		errs = append(errs, loadFile(fs, f.Value.String(), set)...)
	}
	return errors.Join(errs...)
}

// UsageError is a problem with the command line itself: a flag that does
// not parse (the flag package has printed it, with the usage: Printed),
// -help (Err is flag.ErrHelp), or a positional argument.
type UsageError struct {
	Err     error
	Printed bool
}

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error, so errors.Is(err, flag.ErrHelp)
// holds for -help.
func (e *UsageError) Unwrap() error { return e.Err }

// loadFile applies the settings of a TOML file to the flags not in set.
// Keys are flag names; a table's name joins its keys with "-", so
// "[auth] leeway" is auth-leeway. Lists are TOML arrays or comma-separated
// strings; sizes and durations are strings ("64KiB", "30s") or, for sizes,
// integers.
func loadFile(fs *flag.FlagSet, path string, set map[string]bool) []error {
	b, err := os.ReadFile(path)
	if err != nil {
		return []error{fmt.Errorf("config: %v", err)}
	}
	var doc map[string]any
	if err := toml.Unmarshal(b, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return []error{fmt.Errorf("config: %s:%d:%d: %v", path, row, col, de)}
		}
		return []error{fmt.Errorf("config: %s: %v", path, err)}
	}
	flat := map[string]any{}
	var errs []error
	flatten("", doc, flat, func(key string) {
		errs = append(errs, fmt.Errorf("config: %s: %s is given twice (a table name joins its keys with -)", path, key))
	})
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := fs.Lookup(k)
		switch {
		case f == nil || NotSettings[k]:
			errs = append(errs, fmt.Errorf("config: %s: unknown setting %q", path, k))
			continue
		case k == "config":
			errs = append(errs, fmt.Errorf("config: %s: a configuration file cannot name another (config)", path))
			continue
		case set[k]:
			continue // the command line or a twin overrides the file
		}
		v, err := tomlString(flat[k])
		if err == nil {
			err = setFlag(fs, f, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %s = %v: %v", path, k, flat[k], err))
		}
	}
	return errs
}

// flatten copies m into flat with table names joined to their keys by
// "-", calling dup for a key that two spellings produce.
func flatten(prefix string, m map[string]any, flat map[string]any, dup func(string)) {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "-" + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(name, sub, flat, dup)
			continue
		}
		if _, seen := flat[name]; seen {
			dup(name)
		}
		flat[name] = v
	}
}

// tomlString turns a decoded TOML value into the text a flag parses.
func tomlString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, err := tomlString(e)
			if err != nil {
				return "", err
			}
			if _, nested := e.([]any); nested || strings.Contains(s, ",") {
				return "", errors.New("a list holds plain values without commas")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("want a string, number, boolean or list, not %T", v)
}

// FlagType names the kind of value a flag takes, for -help and for
// messages: bool, string, int, float, duration, size or list.
func FlagType(f *flag.Flag) string {
	if t, ok := f.Value.(interface{ Type() string }); ok {
		return t.Type()
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "bool"
	}
	if g, ok := f.Value.(flag.Getter); ok {
		if _, ok := g.Get().(time.Duration); ok {
			return "duration"
		}
	}
	name, _ := flag.UnquoteUsage(f)
	switch name {
	case "float64":
		return "float"
	case "", "value":
		return "string"
	}
	return name
}

// BoolSpellings are the values a boolean flag, twin or file string accepts
// (strconv.ParseBool's).
const BoolSpellings = "true or false (also 1, t, T, TRUE, True; 0, f, F, FALSE, False)"

// TypeHint says what a value of the flag's type looks like.
func TypeHint(f *flag.Flag) string {
	switch FlagType(f) {
	case "bool":
		return BoolSpellings
	case "int", "uint":
		return "a whole number"
	case "float":
		return "a number, such as 2.5"
	case "duration":
		return "a duration, such as 250ms, 30s or 5m"
	case "size":
		return "a byte size, such as 65536, 64KiB or 16MiB"
	case "list":
		return "a comma-separated list"
	}
	return "a string"
}

// setFlag sets f from v. When v does not parse, the flag keeps its value
// (the flag package would leave a zero behind, and Validate would then
// report a second, misleading problem), and the error says in words what
// was wanted: the flag package's own "parse error" does not.
func setFlag(fs *flag.FlagSet, f *flag.Flag, v string) error {
	old := f.Value.String()
	err := fs.Set(f.Name, v)
	if err == nil {
		return nil
	}
	_ = fs.Set(f.Name, old)
	msg := "want " + TypeHint(f)
	if e := err.Error(); e != "parse error" && !strings.HasPrefix(e, "bad byte size") {
		msg += " (" + e + ")"
	}
	return errors.New(msg)
}
