package deflate

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const python = "/usr/bin/python3"

// pyInterop checks both directions with zlib raw deflate (wbits -8..-15):
//
//	check DIR: inflate every Go-made DIR/<mode>-<bits>/<i>.z and compare with
//	  <i>.raw; "ctx" directories share one decompressobj (context takeover),
//	  "msg" directories use one per message.
//	make DIR: compress every DIR/<mode>-<bits>/<i>.raw into <i>.py, a
//	  Z_SYNC_FLUSH output without its 00 00 ff ff tail, with one compressobj
//	  per message ("msg") or per directory ("ctx").
const pyInterop = `
import os, sys, zlib
cmd, root = sys.argv[1], sys.argv[2]
for d in sorted(os.listdir(root)):
    mode, bits = d.split("-")
    bits = int(bits)
    path = os.path.join(root, d)
    n = len([f for f in os.listdir(path) if f.endswith(".raw")])
    obj = None
    for i in range(n):
        raw = open(os.path.join(path, "%d.raw" % i), "rb").read()
        if cmd == "check":
            if obj is None or mode == "msg":
                obj = zlib.decompressobj(-bits)
            z = open(os.path.join(path, "%d.z" % i), "rb").read()
            try:
                out = obj.decompress(z + b"\x00\x00\xff\xff")
            except zlib.error as e:
                sys.exit("%s/%d: zlib: %s" % (d, i, e))
            if out != raw:
                sys.exit("%s/%d: zlib output differs (%d vs %d bytes)" % (d, i, len(out), len(raw)))
        else:
            if bits == 8:
                continue  # zlib cannot compress raw deflate with a 256-byte window
            if obj is None or mode == "msg":
                obj = zlib.compressobj(6, zlib.DEFLATED, -bits)
            z = obj.compress(raw) + obj.flush(zlib.Z_SYNC_FLUSH)
            assert z.endswith(b"\x00\x00\xff\xff")
            open(os.path.join(path, "%d.py" % i), "wb").write(z[:-4])
print("ok")
`

func runPython(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(python, append([]string{"-c", pyInterop}, args...)...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python3 %s: %v\n%s", args[0], err, out)
	}
}

// TestPythonZlibInterop: zlib inflates what Compress and Compressor make with
// every window size (so distances honour server_max_window_bits), and
// Decompress and Decompressor inflate what zlib makes.
func TestPythonZlibInterop(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skip("no " + python)
	}
	root := t.TempDir()
	sizes := []int{0, 16, 300, 5000, 40000, 70000}
	type msg struct{ dir, raw string }
	var all []msg
	for bits := MinWindowBits; bits <= MaxWindowBits; bits++ {
		for _, mode := range []string{"msg", "ctx"} {
			dir := filepath.Join(root, fmt.Sprintf("%s-%d", mode, bits))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			c := NewCompressor(1, bits)
			for i, size := range sizes {
				kind := []payloadKind{kindJSON, kindBinary, kindRandom}[i%3]
				raw := testPayload(kind, size, uint64(i%2))
				var z []byte
				if mode == "msg" {
					z = Compress(nil, raw, 9, bits)
				} else {
					z = c.Compress(nil, raw)
				}
				base := filepath.Join(dir, fmt.Sprint(i))
				if err := os.WriteFile(base+".raw", raw, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(base+".z", z, 0o644); err != nil {
					t.Fatal(err)
				}
				all = append(all, msg{dir, base})
			}
			c.Close()
		}
	}
	runPython(t, "check", root)
	runPython(t, "make", root)

	var d Decompressor
	lastDir := ""
	checked := 0
	for _, m := range all {
		z, err := os.ReadFile(m.raw + ".py")
		if os.IsNotExist(err) && strings.HasSuffix(m.dir, "-8") {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(m.raw + ".raw")
		ctx := strings.Contains(filepath.Base(m.dir), "ctx")
		var out []byte
		if ctx {
			if m.dir != lastDir {
				d.Close()
				lastDir = m.dir
			}
			out, err = d.Decompress(nil, z, 0)
		} else {
			out, err = Decompress(nil, z, 0)
		}
		if err != nil || !bytes.Equal(out, raw) {
			t.Fatalf("%s: inflating zlib output: %v", m.raw, err)
		}
		checked++
	}
	d.Close()
	if checked < len(sizes)*2*7 {
		t.Fatalf("only %d zlib messages checked", checked)
	}
}
