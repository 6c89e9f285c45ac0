package stomp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// stompjsScript runs inside Node with npm's @stomp/stompjs. It reads a JSON
// request on stdin: "marshal" lists frames for stompjs to serialize (as a
// STOMP 1.2 client does), "parse" lists base64 chunks for stompjs's parser.
// It prints the serialized frames and the parsed ones as JSON.
const stompjsScript = `
const { FrameImpl, Parser } = require('@stomp/stompjs');
const req = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = { generated: [], parsed: [], pings: 0 };
for (const c of req.marshal) {
  const p = { command: c.command, headers: c.headers, escapeHeaderValues: c.escape };
  if (c.binary) p.binaryBody = Buffer.from(c.body, 'base64'); else p.body = c.body;
  const wire = FrameImpl.marshall(p);
  out.generated.push(Buffer.from(typeof wire === 'string' ? Buffer.from(wire, 'utf8') : new Uint8Array(wire)).toString('base64'));
}
const frames = [];
const parser = new Parser(raw => frames.push(FrameImpl.fromRawFrame(raw, true)), () => out.pings++);
for (const chunk of req.parse) {
  const b = Buffer.from(chunk, 'base64');
  parser.parseChunk(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}
for (const f of frames) {
  out.parsed.push({ command: f.command, headers: f.headers, body: Buffer.from(f.binaryBody).toString('base64') });
}
console.log(JSON.stringify(out));
`

// jsFrame is a frame as the script exchanges it. Headers are an object in
// JavaScript; their order is kept by marshalling them as a list of pairs.
type jsFrame struct {
	Command string         `json:"command"`
	Headers orderedHeaders `json:"headers"`
	Body    string         `json:"body"`
	Binary  bool           `json:"binary,omitempty"`
	Escape  bool           `json:"escape"`
}

// orderedHeaders marshals to a JSON object with its keys in order.
type orderedHeaders [][2]string

func (h orderedHeaders) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, kv := range h {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, kv[0])
		b = append(b, ':')
		b = strconv.AppendQuote(b, kv[1])
	}
	return append(b, '}'), nil
}

// runStompjs runs the script with the request and decodes its answer. It
// skips without node or the npm package, or fails when
// WSGATE_REQUIRE_INTEROP is set (as make test does).
func runStompjs(t *testing.T, req any) (out struct {
	Generated []string `json:"generated"`
	Parsed    []struct {
		Command string            `json:"command"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"parsed"`
	Pings int `json:"pings"`
}) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "test", "node"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "@stomp", "stompjs", "package.json"))
	}
	if err != nil {
		if os.Getenv("WSGATE_REQUIRE_INTEROP") != "" {
			t.Fatalf("node or npm @stomp/stompjs missing and WSGATE_REQUIRE_INTEROP is set: run scripts/setup-test-deps.sh (%v)", err)
		}
		t.Skipf("node or npm @stomp/stompjs missing: run scripts/setup-test-deps.sh (%v)", err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "-e", stompjsScript)
	cmd.Dir = dir // require() resolves from test/node/node_modules
	cmd.Stdin = bytes.NewReader(in)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("node output: %v\n%s", err, stdout)
	}
	return out
}

// Frames serialized by @stomp/stompjs parse here to what stompjs meant, and
// frames encoded here parse in stompjs to what we meant.
func TestStompjsInterop(t *testing.T) {
	binary := []byte("bin\x00ary\x00\xff\x00")
	note := "two\nlines\\and\r:colon"
	marshal := []jsFrame{
		{Command: "CONNECT", Headers: orderedHeaders{{"accept-version", "1.2,1.1,1.0"},
			{"heart-beat", "10000,10000"}, {"host", "localhost"}, {"login", "user:x"}, {"passcode", "a\\b"}}},
		{Command: "SUBSCRIBE", Escape: true, Headers: orderedHeaders{{"id", "sub-0"},
			{"destination", "/topic/a:b"}, {"ack", "client-individual"}}},
		{Command: "SEND", Escape: true, Headers: orderedHeaders{{"destination", "/queue/x"},
			{"content-type", "text/plain"}, {"x-note", note}}, Body: "héllo wörld"},
		{Command: "SEND", Escape: true, Headers: orderedHeaders{{"destination", "/queue/bin"}},
			Body: base64.StdEncoding.EncodeToString(binary), Binary: true},
		{Command: "DISCONNECT", Escape: true, Headers: orderedHeaders{{"receipt", "77"}}},
	}

	// What this package sends, as a gateway would: CONNECTED, a MESSAGE as
	// head + shared tail, a binary MESSAGE, RECEIPT and ERROR, heart-beats
	// between them, all cut into 7-byte chunks.
	var wire []byte
	wire = AppendConnected(wire, V12, HeartBeat{Send: 10 * time.Second, Receive: 10 * time.Second}, "s-1", "wsgate/test")
	wire = append(wire, '\n')
	tail := AppendHeader(nil, CmdMessage, "x-note", note)
	tail = AppendMessageTail(tail, "text/plain;charset=utf-8", []byte("héllo wörld"))
	wire = AppendMessageHead(wire, "/topic/a:b", "sub-0", []byte("m:1"))
	wire = append(wire, tail...)
	wire = AppendFrame(wire, CmdMessage, []Header{{HeaderDestination, "/queue/bin"},
		{HeaderSubscription, "sub-1"}, {HeaderMessageID, "m-2"}}, binary)
	wire = append(wire, "\r\n"...)
	wire = AppendReceipt(wire, "77")
	wire = AppendError(wire, ErrFrameTooLarge.Reason(), []byte("r-1"), []byte("detail"))
	var chunks []string
	for i := 0; i < len(wire); i += 7 {
		chunks = append(chunks, base64.StdEncoding.EncodeToString(wire[i:min(i+7, len(wire))]))
	}

	out := runStompjs(t, map[string]any{"marshal": marshal, "parse": chunks})

	// stompjs -> this parser.
	var stream []byte
	for _, g := range out.Generated {
		b, err := base64.StdEncoding.DecodeString(g)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(append(stream, b...), '\n') // a heart-beat after each, as stompjs sends them
	}
	r := parseChunks(parseConfig{ver: V12}, stream, len(stream)/3, 2*len(stream)/3)
	if r.err != nil {
		t.Fatalf("parsing stompjs frames: %v\n%q", r.err, stream)
	}
	var frames []event
	for _, e := range r.events {
		if !e.hb {
			frames = append(frames, e)
		}
	}
	if len(frames) != len(marshal) || len(r.events) != 2*len(marshal) {
		t.Fatalf("got %d frames, %d events from %q", len(frames), len(r.events), stream)
	}
	for i, m := range marshal {
		got := frames[i]
		body := m.Body
		if m.Binary {
			body = string(binary)
		}
		if got.cmd.String() != m.Command || got.body != body {
			t.Errorf("frame %d: %v, want %s body %q", i, got, m.Command, body)
		}
		for j, kv := range m.Headers {
			if j >= len(got.headers) || got.headers[j] != kv {
				t.Errorf("frame %d: header %d is %v, want %q", i, j, got.headers, kv)
				break
			}
		}
		if len(body) > 0 {
			if cl := got.headers[len(got.headers)-1]; cl != [2]string{HeaderContentLength, strconv.Itoa(len(body))} {
				t.Errorf("frame %d: last header %q, want its content-length", i, cl)
			}
		}
	}

	// This encoder -> stompjs.
	want := []struct {
		command string
		headers map[string]string
		body    string
	}{
		{"CONNECTED", map[string]string{"version": "1.2", "heart-beat": "10000,10000", "session": "s-1", "server": "wsgate/test"}, ""},
		{"MESSAGE", map[string]string{"destination": "/topic/a:b", "subscription": "sub-0", "message-id": "m:1",
			"x-note": note, "content-type": "text/plain;charset=utf-8", "content-length": strconv.Itoa(len("héllo wörld"))}, "héllo wörld"},
		{"MESSAGE", map[string]string{"destination": "/queue/bin", "subscription": "sub-1", "message-id": "m-2",
			"content-length": strconv.Itoa(len(binary))}, string(binary)},
		{"RECEIPT", map[string]string{"receipt-id": "77"}, ""},
		{"ERROR", map[string]string{"message": "frame too large", "receipt-id": "r-1", "content-type": "text/plain",
			"content-length": "6"}, "detail"},
	}
	if len(out.Parsed) != len(want) || out.Pings != 2 {
		t.Fatalf("stompjs parsed %d frames and %d heart-beats, want %d and 2: %+v", len(out.Parsed), out.Pings, len(want), out.Parsed)
	}
	for i, w := range want {
		got := out.Parsed[i]
		body, _ := base64.StdEncoding.DecodeString(got.Body)
		if got.Command != w.command || string(body) != w.body || len(got.Headers) != len(w.headers) {
			t.Errorf("stompjs frame %d: %s %v body %q; want %s %v body %q", i, got.Command, got.Headers, body, w.command, w.headers, w.body)
			continue
		}
		for k, v := range w.headers {
			if got.Headers[k] != v {
				t.Errorf("stompjs frame %d: header %s = %q, want %q", i, k, got.Headers[k], v)
			}
		}
	}
}
