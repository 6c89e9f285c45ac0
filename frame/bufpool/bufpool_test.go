package bufpool

import "testing"

func TestPoolClasses(t *testing.T) {
	cases := []struct{ n, class int }{
		{0, 0}, {1, 0}, {512, 0}, {513, 1}, {1024, 1}, {1025, 2},
		{1 << 24, numClasses - 1}, {1<<24 + 1, -1},
	}
	for _, c := range cases {
		if got := classOf(c.n); got != c.class {
			t.Errorf("classOf(%d)=%d want %d", c.n, got, c.class)
		}
	}
	for _, n := range []int{1, 600, 5000, 1<<24 + 1} {
		p := Get(n)
		if cap(*p) < n || len(*p) != 0 {
			t.Fatalf("Get(%d): len %d cap %d", n, len(*p), cap(*p))
		}
		*p = append(*p, 1, 2, 3)
		Put(p)
	}
}
