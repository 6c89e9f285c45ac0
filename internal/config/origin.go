package config

import (
	"errors"
	"strings"
)

// CheckOriginPattern reports whether p is a usable Origin allow-list entry:
// "null", or scheme://host[:port] where host may start with one "*." label.
func CheckOriginPattern(p string) error {
	if p == "null" {
		return nil
	}
	if p == "*" {
		return errors.New("* admits every origin and needs -allow-any-origin")
	}
	scheme, rest, ok := strings.Cut(p, "://")
	if !ok || scheme == "" || rest == "" {
		return errors.New("want scheme://host[:port]")
	}
	if strings.ContainsAny(rest, "/?#") {
		return errors.New("an origin has no path, query or fragment")
	}
	if strings.Contains(strings.TrimPrefix(rest, "*."), "*") {
		return errors.New("only one leading *. label is allowed")
	}
	return nil
}

// OriginMatcher is a compiled Origin allow-list. It is safe for concurrent
// use and allocates nothing per check.
type OriginMatcher struct {
	exact    []string
	suffixes []originSuffix
	allowAll bool
}

type originSuffix struct {
	scheme string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

// NewOriginMatcher compiles patterns (already checked by Validate). A "*"
// entry admits every origin; an empty list admits none (the server then
// applies its same-origin rule).
func NewOriginMatcher(patterns []string) *OriginMatcher {
	m := &OriginMatcher{}
	for _, p := range patterns {
		if p == "*" {
			m.allowAll = true
			continue
		}
		p = strings.ToLower(p)
		if scheme, rest, ok := strings.Cut(p, "://"); ok && strings.HasPrefix(rest, "*.") {
			m.suffixes = append(m.suffixes, originSuffix{scheme: scheme + "://", suffix: rest[1:]})
			continue
		}
		m.exact = append(m.exact, p)
	}
	return m
}

// Allowed reports whether origin (the raw header value; empty when the
// header is absent) is admitted. A request without Origin comes from a
// non-browser client and is admitted; browsers always send the header.
// A matcher built from an empty list admits only requests without Origin.
func (m *OriginMatcher) Allowed(origin []byte) bool {
	if m.allowAll || len(origin) == 0 {
		return true
	}
	for _, e := range m.exact {
		if equalFoldASCII(origin, e) {
			return true
		}
	}
	for _, s := range m.suffixes {
		n := len(origin)
		if n <= len(s.scheme)+len(s.suffix) {
			continue // "*." needs at least one character of its own
		}
		if equalFoldASCII(origin[:len(s.scheme)], s.scheme) && equalFoldASCII(origin[n-len(s.suffix):], s.suffix) {
			return true
		}
	}
	return false
}

func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
