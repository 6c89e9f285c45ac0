// Package reqhead reads fields of a raw HTTP/1.1 request head in place,
// without parsing it into a map: the listener's upgrade path, its SockJS
// requests and the demo's recorded responses each look up a header or two
// in bytes they already hold.
package reqhead

import "bytes"

// Value returns the trimmed value of the first header named name (lower
// case) in the raw request head req, or nil. It allocates nothing.
func Value(req []byte, name string) []byte {
	for len(req) > 0 {
		line, rest, ok := bytes.Cut(req, []byte("\r\n"))
		if !ok {
			return nil
		}
		req = rest
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			return bytes.TrimSpace(v)
		}
	}
	return nil
}
