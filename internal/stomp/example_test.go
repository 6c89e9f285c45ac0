package stomp_test

import (
	"errors"
	"fmt"

	"github.com/wsgate/wsgate/internal/stomp"
)

// printer is a stomp.Handler that prints what it gets.
type printer struct{}

func (printer) OnFrame(f *stomp.Frame) error {
	fmt.Printf("%v destination=%q body=%q\n", f.Command, f.Headers.Get(stomp.HeaderDestination), f.Body)
	return nil
}

func (printer) OnHeartbeat() error {
	fmt.Println("heart-beat")
	return nil
}

// One WebSocket message may carry several frames and heart-beats; a frame
// may continue in the next message.
func ExampleParser() {
	lim := stomp.DefaultLimits()
	var p stomp.Parser
	p.Init(&lim)
	defer p.Release()

	msgs := []string{
		"SEND\ndestination:/topic/a\\cb\ncontent-length:5\n\nhello\x00\nSEND\ndestin",
		"ation:/topic/c\n\nworld\x00\r\n",
		"SUBSCRIBE\nid:0\n\nunexpected body\x00",
	}
	for _, m := range msgs {
		if err := p.Feed([]byte(m), printer{}); err != nil {
			var se *stomp.Error
			if errors.As(err, &se) {
				fmt.Printf("ERROR message:%s (metric label %s)\n", se.Reason(), se.Code)
			}
			break
		}
	}
	// Output:
	// SEND destination="/topic/a:b" body="hello"
	// heart-beat
	// SEND destination="/topic/c" body="world"
	// heart-beat
	// ERROR message:frame must not have a body (metric label unexpected_body)
}

// A broadcast encodes the shared tail once and a small head per
// subscriber; each subscriber is sent head then tail (writev).
func ExampleAppendMessageTail() {
	body := []byte(`{"text":"hi"}`)
	tail := stomp.AppendMessageTail(nil, "application/json", body)

	var head []byte // reused for every subscriber
	for _, sub := range []string{"sub-0", "sub-1"} {
		head = stomp.AppendMessageHead(head[:0], "/topic/chat", sub, "m-1")
		fmt.Printf("%q + %d shared bytes\n", head, len(tail))
	}
	fmt.Printf("%q\n", tail)
	// Output:
	// "MESSAGE\ndestination:/topic/chat\nsubscription:sub-0\nmessage-id:m-1\n" + 63 shared bytes
	// "MESSAGE\ndestination:/topic/chat\nsubscription:sub-1\nmessage-id:m-1\n" + 63 shared bytes
	// "content-type:application/json\ncontent-length:13\n\n{\"text\":\"hi\"}\x00"
}

// A server negotiates the version and heart-beats from CONNECT.
func ExampleNegotiateVersion() {
	v, err := stomp.NegotiateVersion([]byte("1.1,1.2"))
	if err != nil {
		fmt.Println(err)
		return
	}
	client, _ := stomp.ParseHeartBeat([]byte("4000,20000"))
	server := stomp.HeartBeat{Send: 10e9, Receive: 10e9} // 10 s both ways
	send, expect := server.Negotiate(client)
	fmt.Printf("%q\n", stomp.AppendConnected(nil, v, server, "", ""))
	fmt.Println("send every", send, "expect every", expect)
	// Output:
	// "CONNECTED\nversion:1.2\nheart-beat:10000,10000\n\n\x00"
	// send every 20s expect every 10s
}
