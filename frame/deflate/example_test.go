package deflate_test

import (
	"fmt"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
)

// The server side of a handshake and of one message each way, in the
// default mode (no context takeover).
func Example() {
	opts := &deflate.Options{} // defaults: no context takeover, level 1, threshold 128

	// Handshake: feed every Sec-WebSocket-Extensions line of the request.
	var n deflate.Negotiator
	n.Reset(opts)
	n.Offer([]byte("permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits"))
	params, ok := n.Accepted()
	fmt.Println(ok)
	fmt.Printf("Sec-WebSocket-Extensions: %s\n", deflate.AppendResponse(nil, params))

	// Outbound: a message for many receivers is compressed once per window size.
	msg := []byte(`{"room":"lobby","text":"hello hello hello hello hello hello hello hello hello hello hello hello"}`)
	p := deflate.NewPrepared(frame.OpText, msg, &deflate.Options{Threshold: -1})
	wire := p.Frame(ok, params.ServerMaxWindowBits)
	fmt.Printf("frame byte 0: %#x, %d bytes instead of %d\n", wire[0], len(wire), len(p.Frame(false, 0)))

	// Inbound: a frame with RSV1 set carries a compressed payload.
	compressed := deflate.Compress(nil, msg, 1, 15) // what the client would send
	plain, err := deflate.Decompress(nil, compressed, frame.DefaultMaxMessage)
	fmt.Println(string(plain) == string(msg), err)
	// Output:
	// true
	// Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover
	// frame byte 0: 0xc1, 38 bytes instead of 99
	// true <nil>
}
