package hub

import "testing"

// TestAllocs proves the steady-state paths allocate nothing.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	h := New[*tconn](0)
	residents := newConns(10000)
	for i, c := range residents {
		h.Join("big", c)
		if i < 3 {
			h.Join("small", c)
			h.AddUser("user", c)
		}
		if i < 100 {
			h.Join("mid", c)
		}
	}
	visitor := &tconn{}
	dst := make([]*tconn, 0, len(residents))
	cases := []struct {
		name string
		fn   func()
	}{
		{"AppendMembers/10k", func() { dst = h.AppendMembers(dst[:0], "big") }},
		{"AppendMembers/missing", func() { dst = h.AppendMembers(dst[:0], "nope") }},
		{"AppendUser", func() { dst = h.AppendUser(dst[:0], "user") }},
		{"Count", func() { _ = h.Count("big") }},
		{"JoinLeave/small", func() { h.Join("small", visitor); h.Leave("small", visitor) }},
		{"JoinLeave/mid", func() { h.Join("mid", visitor); h.Leave("mid", visitor) }},
		{"JoinLeave/10k", func() { h.Join("big", visitor); h.Leave("big", visitor) }},
		{"Join/again", func() { h.Join("mid", residents[5]) }},
		{"Leave/non-member", func() { h.Leave("mid", visitor); h.Leave("nope", visitor) }},
		{"LeaveAll", func() {
			h.Join("small", visitor)
			h.Join("mid", visitor)
			h.LeaveAll([]string{"small", "mid", "nope"}, visitor)
		}},
		{"AddRemoveUser", func() { h.AddUser("user", visitor); h.RemoveUser("user", visitor) }},
	}
	for _, tc := range cases {
		if a := testing.AllocsPerRun(1000, tc.fn); a != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tc.name, a)
		}
	}
	if len(dst) != 3 {
		t.Fatalf("dst holds %d, want the 3 members of user", len(dst))
	}
}
