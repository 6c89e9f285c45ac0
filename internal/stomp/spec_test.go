package stomp

import (
	"strconv"
	"strings"
	"testing"
)

// specExample is a frame printed in the STOMP 1.2 specification (with ^@
// written as \x00) and what it parses to.
type specExample struct {
	name  string
	wire  string
	frame event
	// noBlankLine marks the examples that omit the blank line before the
	// NUL; they parse, but AppendFrame writes the blank line.
	noBlankLine bool
}

func specExamples() []specExample {
	return []specExample{
		{name: "repeated header entries", wire: "MESSAGE\nfoo:World\nfoo:Hello\n\n\x00",
			frame: fev(CmdMessage, "", "foo", "World", "foo", "Hello")},
		{name: "connecting: CONNECT", wire: "CONNECT\naccept-version:1.2\nhost:stomp.github.org\n\n\x00",
			frame: fev(CmdConnect, "", "accept-version", "1.2", "host", "stomp.github.org")},
		{name: "connecting: CONNECTED", wire: "CONNECTED\nversion:1.2\n\n\x00",
			frame: fev(CmdConnected, "", "version", "1.2")},
		{name: "negotiation: CONNECT", wire: "CONNECT\naccept-version:1.0,1.1,2.0\nhost:stomp.github.org\n\n\x00",
			frame: fev(CmdConnect, "", "accept-version", "1.0,1.1,2.0", "host", "stomp.github.org")},
		{name: "negotiation: CONNECTED", wire: "CONNECTED\nversion:1.1\n\n\x00",
			frame: fev(CmdConnected, "", "version", "1.1")},
		{name: "negotiation: ERROR", wire: "ERROR\nversion:1.2,2.1\ncontent-type:text/plain\n\nSupported protocol versions are 1.2 2.1\x00",
			frame: fev(CmdError, "Supported protocol versions are 1.2 2.1", "version", "1.2,2.1", "content-type", "text/plain")},
		{name: "SEND", wire: "SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\n\x00",
			frame: fev(CmdSend, "hello queue a\n", "destination", "/queue/a", "content-type", "text/plain")},
		{name: "SUBSCRIBE", wire: "SUBSCRIBE\nid:0\ndestination:/queue/foo\nack:client\n\n\x00",
			frame: fev(CmdSubscribe, "", "id", "0", "destination", "/queue/foo", "ack", "client")},
		{name: "UNSUBSCRIBE", wire: "UNSUBSCRIBE\nid:0\n\n\x00",
			frame: fev(CmdUnsubscribe, "", "id", "0")},
		{name: "ACK", wire: "ACK\nid:12345\ntransaction:tx1\n\n\x00",
			frame: fev(CmdAck, "", "id", "12345", "transaction", "tx1")},
		{name: "NACK", wire: "NACK\nid:12345\ntransaction:tx1\n\n\x00",
			frame: fev(CmdNack, "", "id", "12345", "transaction", "tx1")},
		{name: "BEGIN", wire: "BEGIN\ntransaction:tx1\n\n\x00",
			frame: fev(CmdBegin, "", "transaction", "tx1")},
		{name: "COMMIT", wire: "COMMIT\ntransaction:tx1\n\n\x00",
			frame: fev(CmdCommit, "", "transaction", "tx1")},
		{name: "ABORT", wire: "ABORT\ntransaction:tx1\n\n\x00",
			frame: fev(CmdAbort, "", "transaction", "tx1")},
		{name: "DISCONNECT", wire: "DISCONNECT\nreceipt:77\n\x00", noBlankLine: true,
			frame: fev(CmdDisconnect, "", "receipt", "77")},
		{name: "RECEIPT for DISCONNECT", wire: "RECEIPT\nreceipt-id:77\n\x00", noBlankLine: true,
			frame: fev(CmdReceipt, "", "receipt-id", "77")},
		{name: "header receipt: SEND", wire: "SEND\ndestination:/queue/a\nreceipt:message-12345\n\nhello queue a\x00",
			frame: fev(CmdSend, "hello queue a", "destination", "/queue/a", "receipt", "message-12345")},
		{name: "MESSAGE", wire: "MESSAGE\nsubscription:0\nmessage-id:007\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\x00",
			frame: fev(CmdMessage, "hello queue a", "subscription", "0", "message-id", "007", "destination", "/queue/a", "content-type", "text/plain")},
		{name: "RECEIPT", wire: "RECEIPT\nreceipt-id:message-12345\n\n\x00",
			frame: fev(CmdReceipt, "", "receipt-id", "message-12345")},
		{name: "ERROR (content-length corrected)", wire: specErrorFrame("170"),
			frame: fev(CmdError, specErrorBody, "receipt-id", "message-12345", "content-type", "text/plain",
				"content-length", "170", "message", " malformed frame received")},
	}
}

// specErrorBody is the body of the spec's ERROR example: 170 bytes.
const specErrorBody = "The message:\n-----\nMESSAGE\ndestined:/queue/a\nreceipt:message-12345\n\nHello queue a!\n-----\n" +
	"Did not contain a destination header, which is REQUIRED\nfor message propagation.\n"

// specErrorFrame is the spec's ERROR example with the given content-length.
func specErrorFrame(contentLength string) string {
	return "ERROR\nreceipt-id:message-12345\ncontent-type:text/plain\ncontent-length:" + contentLength +
		"\nmessage: malformed frame received\n\n" + specErrorBody + "\x00"
}

func TestSpecExamplesParse(t *testing.T) {
	for _, ex := range specExamples() {
		t.Run(ex.name, func(t *testing.T) {
			checkEverySplit(t, parseCase{stream: ex.wire, events: []event{ex.frame}})
		})
	}
	// The spec prints that ERROR frame with content-length:171 for its
	// 170-byte body. Taken at its word, the NUL is the body's last byte and
	// the frame still needs its terminating NUL: a following byte that is
	// not NUL is ErrMissingNUL.
	checkEverySplit(t, parseCase{stream: specErrorFrame("171"), buffered: true})
	checkEverySplit(t, parseCase{stream: specErrorFrame("171") + "\n", err: ErrMissingNUL})
	// Its repeated header resolves to the first value.
	var p Parser
	if err := p.Feed([]byte("MESSAGE\nfoo:World\nfoo:Hello\n\n\x00"), frameFunc(func(f *Frame) error {
		if v := f.Headers.Get("foo"); string(v) != "World" {
			t.Errorf("foo = %q, want World", v)
		}
		return nil
	})); err != nil {
		t.Fatal(err)
	}
}

// AppendFrame writes each spec example back byte for byte, apart from the
// content-length it adds to SEND, MESSAGE and ERROR frames (just before the
// blank line) and the blank line the DISCONNECT/RECEIPT examples omit.
func TestSpecExamplesEncode(t *testing.T) {
	for _, ex := range specExamples() {
		var headers []Header
		for _, h := range ex.frame.headers {
			if h[0] == HeaderContentLength {
				continue
			}
			headers = append(headers, Header{h[0], h[1]})
		}
		got := string(AppendFrame(nil, ex.frame.cmd, headers, []byte(ex.frame.body)))
		want := ex.wire
		if ex.noBlankLine {
			want = strings.TrimSuffix(want, "\x00") + "\n\x00"
		}
		if ex.frame.cmd.AllowsBody() {
			want = stripHeader(want, HeaderContentLength)
			i := strings.Index(want, "\n\n")
			want = want[:i+1] + "content-length:" + strconv.Itoa(len(ex.frame.body)) + "\n" + want[i+1:]
		}
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", ex.name, got, want)
		}
	}
}

// stripHeader removes the header line "name:..." from a frame's text.
func stripHeader(frame, name string) string {
	i := strings.Index(frame, "\n"+name+":")
	if i < 0 {
		return frame
	}
	j := strings.Index(frame[i+1:], "\n")
	return frame[:i+1] + frame[i+1+j+1:]
}

// The negotiation example: the client accepts 1.0, 1.1 and 2.0, so the
// session speaks 1.1 and the server answers with the spec's CONNECTED.
func TestSpecNegotiationExample(t *testing.T) {
	v, err := NegotiateVersion([]byte("1.0,1.1,2.0"))
	if err != nil || v != V11 {
		t.Fatalf("NegotiateVersion = %v, %v", v, err)
	}
	if got := string(AppendConnected(nil, v, HeartBeat{}, "", "")); got != "CONNECTED\nversion:1.1\n\n\x00" {
		t.Fatalf("CONNECTED = %q", got)
	}
}
