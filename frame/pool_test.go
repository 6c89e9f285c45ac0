package frame

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
		p := getBuf(n)
		if cap(*p) < n || len(*p) != 0 {
			t.Fatalf("getBuf(%d): len %d cap %d", n, len(*p), cap(*p))
		}
		*p = append(*p, 1, 2, 3)
		putBuf(p)
	}
}

// TestHugeHeaderNoLimits: with no limits, a header announcing 1 GiB followed
// by a few bytes must not make the decoder allocate anywhere near that.
func TestHugeHeaderNoLimits(t *testing.T) {
	var d Decoder
	d.Init(nil, true, false)
	defer d.Release()
	f := AppendHeader(nil, true, 0, OpBinary, 1<<30, nil)
	f = append(f, "some payload"...)
	if err := d.Feed(f, &recorder{}); err != nil {
		t.Fatal(err)
	}
	if !d.Buffered() || cap(*d.st.buf) > 2*maxPrealloc {
		t.Fatalf("buffered %v cap %d", d.Buffered(), cap(*d.st.buf))
	}
}
