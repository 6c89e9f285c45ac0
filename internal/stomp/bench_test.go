package stomp

import (
	"strconv"
	"strings"
	"testing"
)

// benchParse parses one SEND frame with a body of n bytes per iteration.
// The frame is copied into the read buffer first (parsing may unescape in
// place), so the numbers include one memmove of the frame.
func benchParse(b *testing.B, frame []byte, cuts ...int) {
	buf := make([]byte, len(frame))
	var p Parser
	lim := DefaultLimits()
	p.Init(&lim)
	var h countHandler
	ends := append(cuts[:len(cuts):len(cuts)], len(buf))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, frame)
		prev := 0
		for _, c := range ends {
			if err := p.Feed(buf[prev:c], &h); err != nil {
				b.Fatal(err)
			}
			prev = c
		}
	}
}

// BenchmarkParseSend64B parses a complete SEND with a 64-byte body
// (destination, content-type, content-length headers).
func BenchmarkParseSend64B(b *testing.B) { benchParse(b, sendFrame(64)) }

// BenchmarkParseSend1KiB parses a complete SEND with a 1 KiB body.
func BenchmarkParseSend1KiB(b *testing.B) { benchParse(b, sendFrame(1024)) }

// BenchmarkParseSendNoLength64B parses a SEND with a 64-byte body ended by
// its NUL (no content-length header).
func BenchmarkParseSendNoLength64B(b *testing.B) {
	benchParse(b, []byte("SEND\ndestination:/topic/chat.room-42\ncontent-type:application/json\n\n"+
		strings.Repeat("abcdefgh", 8)+"\x00"))
}

// BenchmarkParseSendEscaped64B parses a SEND whose headers need unescaping.
func BenchmarkParseSendEscaped64B(b *testing.B) {
	benchParse(b, AppendFrame(nil, CmdSend, []Header{
		{HeaderDestination, "/topic/a:b"}, {"x-note", "two\nlines"},
	}, []byte(strings.Repeat("abcdefgh", 8))))
}

// BenchmarkParseSendSplit1KiB parses a 1 KiB SEND delivered in two Feed
// calls (pooled scratch copy).
func BenchmarkParseSendSplit1KiB(b *testing.B) {
	frame := sendFrame(1024)
	benchParse(b, frame, len(frame)/2)
}

// BenchmarkParseBatch16 parses 16 small SEND frames in one message.
func BenchmarkParseBatch16(b *testing.B) {
	var batch []byte
	for range 16 {
		batch = append(batch, sendFrame(64)...)
	}
	benchParse(b, batch)
}

// BenchmarkEncodeMessageHead encodes the per-subscriber head of a MESSAGE
// (command, destination, subscription, message-id): the work a broadcast
// does once per subscriber.
func BenchmarkEncodeMessageHead(b *testing.B) {
	head := make([]byte, 0, 256)
	msgID := []byte("m-1234567")
	b.ReportAllocs()
	for b.Loop() {
		head = AppendMessageHead(head[:0], "/topic/chat.room-42", "sub-17", msgID)
	}
}

// benchTail encodes the shared tail (content-type, content-length, blank
// line, body, NUL): the work a broadcast does once per message.
func benchTail(b *testing.B, n int) {
	body := []byte(strings.Repeat("abcdefgh", n/8))
	tail := make([]byte, 0, n+128)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		tail = AppendMessageTail(tail[:0], "application/json", body)
	}
}

// BenchmarkEncodeMessageTail64B builds the shared tail of a 64-byte message.
func BenchmarkEncodeMessageTail64B(b *testing.B) { benchTail(b, 64) }

// BenchmarkEncodeMessageTail1KiB builds the shared tail of a 1 KiB message.
func BenchmarkEncodeMessageTail1KiB(b *testing.B) { benchTail(b, 1024) }

// BenchmarkBroadcast10k encodes one 1 KiB MESSAGE for 10,000 subscribers:
// the tail once, a head per subscriber into one reused buffer. ns/op is
// per broadcast; the per-subscriber cost is reported as ns/subscriber.
func BenchmarkBroadcast10k(b *testing.B) {
	const subscribers = 10000
	ids := make([]string, subscribers)
	for i := range ids {
		ids[i] = "sub-" + strconv.Itoa(i)
	}
	body := []byte(strings.Repeat("abcdefgh", 128))
	msgID := []byte("m-1234567")
	head := make([]byte, 0, 256)
	tail := make([]byte, 0, 2048)
	sink := 0
	b.ReportAllocs()
	for b.Loop() {
		tail = AppendMessageTail(tail[:0], "application/json", body)
		for _, id := range ids {
			head = AppendMessageHead(head[:0], "/topic/chat.room-42", id, msgID)
			sink += len(head)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/subscribers, "ns/subscriber")
	_ = sink
}

// BenchmarkAppendFrameMessage encodes a whole 1 KiB MESSAGE with
// AppendFrame: what each subscriber would cost without the head/tail split.
func BenchmarkAppendFrameMessage(b *testing.B) {
	body := []byte(strings.Repeat("abcdefgh", 128))
	headers := []Header{
		{HeaderDestination, "/topic/chat.room-42"}, {HeaderSubscription, "sub-17"},
		{HeaderMessageID, "m-1234567"}, {HeaderContentType, "application/json"},
	}
	out := make([]byte, 0, 2048)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		out = AppendFrame(out[:0], CmdMessage, headers, body)
	}
}
