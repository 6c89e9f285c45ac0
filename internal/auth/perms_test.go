package auth

import (
	"testing"
	"time"
)

func TestPatterns(t *testing.T) {
	cases := []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{"chat.*", []string{"chat.lobby", "chat.x", "chat."}, []string{"chat", "chat.x.y", "chatx.y", "other.x"}},
		{"team.*.general", []string{"team.a.general", "team..general"}, []string{"team.a.b.general", "team.a.generalx", "team.a"}},
		{"*", []string{"lobby", "x"}, []string{"a.b", ""}},
		{"**", []string{"lobby", "a.b", "a.b.c"}, []string{""}},
		{">", []string{"lobby", "a.b.c"}, []string{""}},
		{"chat.>", []string{"chat.x", "chat.x.y"}, []string{"chat", "chat.", "chatx.y"}},
		{"chat.**", []string{"chat.x", "chat.x.y"}, []string{"chat"}},
		{"team-*.general", []string{"team-a.general", "team-.general"}, []string{"team.general", "teamx.general"}},
		{"a*b*c", []string{"abc", "axxbyyc", "abbc", "abcbc"}, []string{"ab", "acb", "a.b.c"}},
		{"*.*", []string{"a.b", ".", "x."}, []string{"a", "a.b.c"}},
		{"exact.room", []string{"exact.room"}, []string{"exact.roomx", "exact.roo", "Exact.room"}},
		{"*.x.>", []string{"a.x.y", "b.x.y.z"}, []string{"a.x", "a.y.z"}},
	}
	for _, c := range cases {
		ps, err := CompilePatterns([]string{c.pattern})
		if err != nil {
			t.Fatalf("compile %q: %v", c.pattern, err)
		}
		for _, r := range c.yes {
			if !ps.Match(r) || !matchAny(ps, []byte(r)) {
				t.Errorf("%q should match %q", c.pattern, r)
			}
		}
		for _, r := range c.no {
			if ps.Match(r) || matchAny(ps, []byte(r)) {
				t.Errorf("%q should not match %q", c.pattern, r)
			}
		}
	}
}

func TestPatternsInvalid(t *testing.T) {
	for _, p := range []string{"", "a b", "chat.**.x", "a**", "chat.>.x", "a/b", "x>", "é"} {
		if _, err := CompilePatterns([]string{"ok", p}); err != ErrPermissions {
			t.Errorf("CompilePatterns(%q) err = %v, want ErrPermissions", p, err)
		}
	}
}

func TestPatternsAnyOf(t *testing.T) {
	ps, err := CompilePatterns([]string{"chat.*", "team.*.general"})
	if err != nil {
		t.Fatal(err)
	}
	id := &Identity{join: ps}
	for _, r := range []string{"chat.a", "team.x.general"} {
		if !id.CanJoin(r) || !id.CanJoinBytes([]byte(r)) || !id.CanPublish(r) || !id.CanPublishBytes([]byte(r)) {
			t.Errorf("%q refused", r)
		}
	}
	if id.CanJoin("team.x.random") || id.CanPublishBytes([]byte("chat")) {
		t.Error("room outside the patterns admitted")
	}
	var none Identity
	if none.CanJoin("a") || none.CanPublish("a") {
		t.Error("zero Identity admits rooms")
	}
}

func TestPermissionsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	ps, _ := CompilePatterns([]string{"chat.*", "team.*.general", "ops.>"})
	id := &Identity{join: ps}
	room := []byte("team.blue.general")
	n := testing.AllocsPerRun(1000, func() {
		if !id.CanJoin("ops.a.b") || !id.CanJoinBytes(room) || id.CanPublish("nope.x") {
			t.Fatal("wrong match")
		}
	})
	if n != 0 {
		t.Errorf("permission checks allocate %v times", n)
	}
}

func BenchmarkCanJoin(b *testing.B) {
	ps, _ := CompilePatterns([]string{"chat.*", "team.*.general", "ops.>"})
	id := &Identity{join: ps}
	room := []byte("team.blue.general")
	b.ReportAllocs()
	for b.Loop() {
		if !id.CanJoinBytes(room) {
			b.Fatal("no match")
		}
	}
}

func TestNewIdentity(t *testing.T) {
	id, err := NewIdentity("dev-user", time.Time{}, []string{">"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !id.CanJoin("any.room") || !id.CanPublish("x") {
		t.Error("dev identity with > should join and publish everywhere")
	}
	id, _ = NewIdentity("reader", time.Time{}, []string{"news.*"}, []string{})
	if !id.CanJoin("news.today") || id.CanPublish("news.today") {
		t.Error("an empty publish list should make the identity read-only")
	}
	if _, err := NewIdentity("bad user", time.Time{}, nil, nil); err != ErrSubject {
		t.Errorf("unsafe subject: err = %v", err)
	}
	if _, err := NewIdentity("u", time.Time{}, []string{"a b"}, nil); err != ErrPermissions {
		t.Errorf("bad pattern: err = %v", err)
	}
}
