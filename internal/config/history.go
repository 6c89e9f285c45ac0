package config

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HistoryRule says which rooms keep history and how much of it: the rooms
// whose names match Pattern keep their last Count messages, none older
// than MaxAge (0: no age limit) and, when MaxBytes is set, no more than
// MaxBytes of them. Patterns use the room pattern syntax of token
// permissions: '*' is one '.'-separated segment (or part of one), a final
// '>' the rest.
type HistoryRule struct {
	Pattern  string
	Count    int
	MaxAge   time.Duration
	MaxBytes int64
}

// String writes the rule as the -history flag takes it.
func (r HistoryRule) String() string {
	s := r.Pattern + "=" + strconv.Itoa(r.Count)
	switch {
	case r.MaxAge > 0:
		s += "/" + r.MaxAge.String()
	case r.MaxBytes > 0:
		s += "/0"
	}
	if r.MaxBytes > 0 {
		s += "/" + FormatBytes(r.MaxBytes)
	}
	return s
}

// Limits on history rules.
const (
	// MaxHistoryCount bounds a rule's message count.
	MaxHistoryCount = 1 << 20
	// MaxHistoryRules bounds the number of rules.
	MaxHistoryRules = 64
)

// ParseHistoryRules parses the -history flag's value: comma-separated
// PATTERN=COUNT[/AGE[/BYTES]], for example
// "chat.*=1000/10m,news.>=100/1h,state.>=1". The first rule whose pattern
// matches a room applies to it.
func ParseHistoryRules(s string) ([]HistoryRule, error) {
	var rules []HistoryRule
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r, err := parseHistoryRule(f)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	if len(rules) > MaxHistoryRules {
		return nil, fmt.Errorf("history: at most %d rules", MaxHistoryRules)
	}
	return rules, nil
}

func parseHistoryRule(f string) (HistoryRule, error) {
	pat, spec, ok := strings.Cut(f, "=")
	if !ok {
		return HistoryRule{}, fmt.Errorf("history rule %q: want PATTERN=COUNT[/AGE[/BYTES]]", f)
	}
	r := HistoryRule{Pattern: strings.TrimSpace(pat)}
	if err := CheckRoomPattern(r.Pattern); err != nil {
		return r, fmt.Errorf("history rule %q: %v", f, err)
	}
	parts := strings.Split(spec, "/")
	if len(parts) > 3 {
		return r, fmt.Errorf("history rule %q: want PATTERN=COUNT[/AGE[/BYTES]]", f)
	}
	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || n < 1 || n > MaxHistoryCount {
		return r, fmt.Errorf("history rule %q: count must be between 1 and %d", f, MaxHistoryCount)
	}
	r.Count = n
	if len(parts) > 1 {
		if a := strings.TrimSpace(parts[1]); a != "" && a != "0" {
			if r.MaxAge, err = time.ParseDuration(a); err != nil || (r.MaxAge != 0 && r.MaxAge < time.Second) {
				return r, fmt.Errorf("history rule %q: age must be a duration of at least 1s (or 0: no age limit)", f)
			}
		}
	}
	if len(parts) > 2 {
		if r.MaxBytes, err = ParseBytes(parts[2]); err != nil || r.MaxBytes < 1<<10 {
			return r, fmt.Errorf("history rule %q: bytes must be a size of at least 1KiB", f)
		}
	}
	return r, nil
}

// CheckRoomPattern reports whether p is a room pattern: '.'-separated
// segments of the room name alphabet (A-Z a-z 0-9 _ - : @ ~) and '*',
// with an optional final segment '>' (or "**") for the rest.
func CheckRoomPattern(p string) error {
	if p == "" || len(p) > 256 {
		return errors.New("pattern must be 1-256 characters")
	}
	segs := strings.Split(p, ".")
	for i, seg := range segs {
		last := i == len(segs)-1
		if seg == "" {
			return errors.New("pattern has an empty segment")
		}
		if seg == ">" || seg == "**" {
			if !last {
				return errors.New("'>' may only be the last segment")
			}
			continue
		}
		if strings.Contains(seg, "**") {
			return errors.New("'**' may only be a whole last segment")
		}
		for _, c := range []byte(seg) {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			case c == '_' || c == '-' || c == ':' || c == '@' || c == '~' || c == '*':
			default:
				return fmt.Errorf("pattern has %q: rooms are A-Z a-z 0-9 . _ - : @ ~, patterns add * and a final >", c)
			}
		}
	}
	return nil
}

// historyRules is the flag.Value of -history.
type historyRules struct{ p *[]HistoryRule }

func (h historyRules) String() string {
	if h.p == nil {
		return ""
	}
	s := make([]string, len(*h.p))
	for i, r := range *h.p {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

func (historyRules) Type() string { return "list" }

func (h historyRules) Set(s string) error {
	rules, err := ParseHistoryRules(s)
	if err != nil {
		return err
	}
	*h.p = rules
	return nil
}

// bindHistory defines the history flags.
func (c *Config) bindHistory(fs *flag.FlagSet) {
	fs.Var(historyRules{&c.History}, "history", "[history] rooms that keep history: comma-separated PATTERN=COUNT[/AGE[/BYTES]] (chat.*=1000/10m,news.>=100/1h); clients resume from an offset")
	fs.Var(byteSize[int64]{&c.HistoryMemory}, "history-memory", "[history] memory for all rooms' history together; past it the oldest messages go first")
	fs.StringVar(&c.HistoryStore, "history-store", c.HistoryStore, "[history] where history lives: memory (each process its own), jetstream (one stream for the cluster, on NATS) or auto (jetstream with -nats or -nats-embedded)")
	fs.IntVar(&c.HistoryReplicas, "history-replicas", c.HistoryReplicas, "[history] NATS servers that hold the history stream (3 survives the loss of one)")
	fs.Var(byteSize[int64]{&c.HistoryStreamBytes}, "history-stream-bytes", "[history] most bytes the history stream keeps; past it the oldest messages go")
}

// HistoryInJetStream reports whether rooms' history lives in a JetStream
// stream shared by the cluster's nodes.
func (c *Config) HistoryInJetStream() bool {
	return len(c.History) > 0 && c.Clustered() && c.HistoryStore != "memory"
}

// validateHistory checks the history settings.
func (c *Config) validateHistory(bad func(string, ...any)) {
	if c.HistoryMemory < 64<<10 || c.HistoryMemory > 1<<40 {
		bad("history-memory %d must be between 64 KiB and 1 TiB", c.HistoryMemory)
	}
	switch c.HistoryStore {
	case "auto", "memory":
	case "jetstream":
		if !c.Clustered() {
			bad("history-store jetstream needs NATS: -nats or -nats-embedded")
		}
	default:
		bad("history-store %q: want auto, memory or jetstream", c.HistoryStore)
	}
	if c.HistoryReplicas < 1 || c.HistoryReplicas > 5 {
		bad("history-replicas %d must be between 1 and 5", c.HistoryReplicas)
	}
	if c.HistoryStreamBytes < 1<<20 {
		bad("history-stream-bytes %d must be at least 1 MiB", c.HistoryStreamBytes)
	}
	if len(c.History) > MaxHistoryRules {
		bad("history: at most %d rules", MaxHistoryRules)
	}
	for _, r := range c.History {
		if err := CheckRoomPattern(r.Pattern); err != nil {
			bad("history pattern %q: %v", r.Pattern, err)
		}
		if r.Count < 1 || r.Count > MaxHistoryCount || r.MaxAge < 0 || r.MaxBytes < 0 {
			bad("history rule %q: count must be 1-%d, age and bytes >= 0", r.String(), MaxHistoryCount)
		}
	}
}
