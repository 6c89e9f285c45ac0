package frame

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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

// TestImportsStdlibOnly keeps the package's dependency arrow honest: frame
// imports only the standard library.
func TestImportsStdlibOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports non-standard %s", name, path)
			}
		}
	}
}

// TestDecodersParallel runs decoders on several goroutines sharing one
// Limits and the buffer pools (meaningful under -race).
func TestDecodersParallel(t *testing.T) {
	lim := &Limits{MaxMessage: DefaultMaxMessage}
	stream := cat(cf(false, 0, OpText, strings.Repeat("a", 3000)), cf(true, 0, OpPing, "p"),
		cf(true, 0, OpContinuation, strings.Repeat("b", 700)), cf(true, 0, OpBinary, strings.Repeat("c", 5000)))
	want := result{events: []event{ctl(OpPing, "p"), msg(OpText, strings.Repeat("a", 3000)+strings.Repeat("b", 700)),
		msg(OpBinary, strings.Repeat("c", 5000))}}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 100; i++ {
				cut := (i*131 + g*17) % len(stream)
				if r := decodeChunks(decodeConfig{lim: lim}, stream, cut/2, cut); !sameResult(r, want) {
					errs <- fmt.Errorf("goroutine %d cut %d: %v", g, cut, r)
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
