package auth

import (
	"strings"
	"time"
)

// Identity is what a verified token grants a connection. It is immutable
// and safe to share between goroutines.
type Identity struct {
	// Subject is the token's sub claim: the connection's user id, a
	// ValidID.
	Subject string
	// Expires is the token's exp claim. A connection open past it should
	// be closed with 4001 "token expired" (after any configured grace).
	Expires time.Time

	join       Patterns
	publish    Patterns
	ownPublish bool // the token had a publish claim
}

// NewIdentity builds an Identity without a token (dev mode, tests):
// subject must be a ValidID; join and publish are pattern lists, and a nil
// publish means the join patterns allow publishing. A zero expires never
// expires.
func NewIdentity(subject string, expires time.Time, join, publish []string) (*Identity, error) {
	if !ValidID(subject) {
		return nil, ErrSubject
	}
	id := &Identity{Subject: subject, Expires: expires}
	var err error
	if id.join, err = CompilePatterns(join); err != nil {
		return nil, err
	}
	if publish != nil {
		if id.publish, err = CompilePatterns(publish); err != nil {
			return nil, err
		}
		id.ownPublish = true
	}
	return id, nil
}

// CanJoin reports whether the identity may join room. It does not
// allocate.
func (id *Identity) CanJoin(room string) bool { return id.join.Match(room) }

// CanJoinBytes is CanJoin for a room name in a byte slice.
func (id *Identity) CanJoinBytes(room []byte) bool { return matchAny(id.join, room) }

// CanPublish reports whether the identity may publish to room: the
// publish patterns when the token had a publish claim, else the join
// patterns. It does not allocate.
func (id *Identity) CanPublish(room string) bool {
	if id.ownPublish {
		return id.publish.Match(room)
	}
	return id.join.Match(room)
}

// CanPublishBytes is CanPublish for a room name in a byte slice.
func (id *Identity) CanPublishBytes(room []byte) bool {
	if id.ownPublish {
		return matchAny(id.publish, room)
	}
	return matchAny(id.join, room)
}

// Patterns is a compiled list of room patterns; a room matches the list
// when it matches any pattern.
//
// Pattern syntax: a room name is '.'-separated segments. In a pattern,
//   - '*' matches any run of characters, possibly empty, except '.': it
//     never crosses a segment ("chat.*" matches "chat.x", not "chat.x.y";
//     "team-*.general" matches "team-a.general"; "*" alone matches every
//     room without a '.');
//   - a final segment ">" or "**" matches one or more further segments
//     ("chat.>" matches "chat.x" and "chat.x.y", not "chat"); ">" or "**"
//     alone matches every room;
//   - every other character matches itself (case-sensitive), from the room
//     name alphabet (A-Z a-z 0-9 . _ - : @ ~).
//
// This is NATS subject matching with '*' also usable inside a segment.
type Patterns []pattern

// pattern is one compiled pattern: glob (the pattern without its tail
// wildcard) and whether a tail wildcard followed.
type pattern struct {
	glob string
	rest bool
}

// CompilePatterns checks and compiles patterns, returning ErrPermissions
// for an invalid one.
func CompilePatterns(list []string) (Patterns, error) {
	ps := make(Patterns, 0, len(list))
	for _, s := range list {
		p, ok := compilePattern(s)
		if !ok {
			return nil, ErrPermissions
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func compilePattern(s string) (pattern, bool) {
	if len(s) == 0 || len(s) > 256 {
		return pattern{}, false
	}
	var p pattern
	switch {
	case s == ">" || s == "**":
		return pattern{rest: true}, true
	case strings.HasSuffix(s, ".>"):
		p = pattern{glob: s[:len(s)-2], rest: true}
	case strings.HasSuffix(s, ".**"):
		p = pattern{glob: s[:len(s)-3], rest: true}
	default:
		p = pattern{glob: s}
	}
	for i := 0; i < len(p.glob); i++ {
		if c := p.glob[i]; c != '*' && !idByte(c) {
			return pattern{}, false
		}
	}
	if strings.Contains(p.glob, "**") {
		return pattern{}, false
	}
	return p, true
}

// compileClaim compiles a permission claim: absent (no permissions), a
// string (one pattern) or an array of strings.
func compileClaim(raw any) (Patterns, error) {
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case string:
		return CompilePatterns([]string{v})
	case []any:
		list := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, ErrPermissions
			}
			list[i] = s
		}
		return CompilePatterns(list)
	}
	return nil, ErrPermissions
}

// Match reports whether room matches any pattern in ps. It does not
// allocate.
func (ps Patterns) Match(room string) bool { return matchAny(ps, room) }

func matchAny[S ~string | ~[]byte](ps Patterns, room S) bool {
	if len(room) == 0 {
		return false
	}
	for i := range ps {
		if matchPattern(ps[i].glob, ps[i].rest, room) {
			return true
		}
	}
	return false
}

// matchPattern matches s segment by segment against glob; with rest, one
// or more segments of s must remain after glob's last segment.
func matchPattern[S ~string | ~[]byte](glob string, rest bool, s S) bool {
	if glob == "" {
		return rest && len(s) > 0
	}
	for {
		pi := strings.IndexByte(glob, '.')
		si := indexDot(s)
		pseg, sseg := glob, s
		if pi >= 0 {
			pseg = glob[:pi]
		}
		if si >= 0 {
			sseg = s[:si]
		}
		if !matchSegment(pseg, sseg) {
			return false
		}
		if pi < 0 {
			if si < 0 {
				return !rest
			}
			return rest && si+1 < len(s)
		}
		if si < 0 {
			return false
		}
		glob, s = glob[pi+1:], s[si+1:]
	}
}

func indexDot[S ~string | ~[]byte](s S) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// matchSegment is a glob match of one segment (no '.' in either), '*'
// matching any run; linear-time with single-star backtracking.
func matchSegment[S ~string | ~[]byte](p string, s S) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
