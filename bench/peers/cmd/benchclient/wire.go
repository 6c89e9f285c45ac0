package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"math/rand/v2"
)

// acceptGUID is the fixed string of RFC 6455 §1.3 that a server appends
// to the client's key before hashing it into Sec-WebSocket-Accept.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// opBinary is the opcode of the echoed messages: binary, so no server
// spends time on UTF-8 validation and none is spared it.
const opBinary = 0x2

var (
	errStatus   = errors.New("benchclient: handshake answered without 101 Switching Protocols")
	errAccept   = errors.New("benchclient: wrong or missing Sec-WebSocket-Accept")
	errEarly    = errors.New("benchclient: server sent data before the first message")
	errTooLarge = errors.New("benchclient: handshake response too large")
	errEcho     = errors.New("benchclient: echo differs from the message sent")
	errClosed   = errors.New("benchclient: server closed the connection")
	errTimeout  = errors.New("benchclient: handshake timed out")
)

// frames are the bytes of one message as the client sends it (masked)
// and as the server must echo it (unmasked, same opcode and payload).
type frames struct {
	Client []byte
	Server []byte
}

// newFrames builds the message of size random bytes. The mask key is
// random and fixed for the run, so the same masked frame is written on
// every connection every time: the client spends nothing per message on
// framing or masking, while every server still unmasks each message.
func newFrames(size int, rng *rand.Rand) frames {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	var key [4]byte
	for i := range key {
		key[i] = byte(rng.Uint32() | 1) // never all zero
	}
	hdr := func(masked bool) []byte {
		b := []byte{0x80 | opBinary}
		var m byte
		if masked {
			m = 0x80
		}
		switch {
		case size < 126:
			b = append(b, m|byte(size))
		case size <= 0xffff:
			b = append(b, m|126, byte(size>>8), byte(size))
		default:
			b = append(b, m|127, 0, 0, 0, 0, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
		}
		return b
	}
	f := frames{Client: hdr(true), Server: hdr(false)}
	f.Client = append(f.Client, key[:]...)
	for i, c := range payload {
		f.Client = append(f.Client, c^key[i%4])
	}
	f.Server = append(f.Server, payload...)
	return f
}

// newKey returns a fresh Sec-WebSocket-Key and the Sec-WebSocket-Accept
// the server must answer it with.
func newKey(rng *rand.Rand) (key, accept string) {
	var raw [16]byte
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	key = base64.StdEncoding.EncodeToString(raw[:])
	return key, acceptFor(key)
}

// acceptFor returns the Sec-WebSocket-Accept value that answers key.
func acceptFor(key string) string {
	sum := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// appendRequest appends the opening handshake for path on host with key.
func appendRequest(b []byte, host, path, key string) []byte {
	b = append(b, "GET "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	return append(b, "\r\nSec-WebSocket-Version: 13\r\n\r\n"...)
}

// maxResponse bounds the handshake response the client buffers.
const maxResponse = 8 << 10

// checkResponse looks for a complete handshake response in b. It returns
// done=false while the header is incomplete, and an error when the
// response is not a 101 with the expected accept value or when bytes
// follow the header (the server has nothing to say before the first
// message).
func checkResponse(b []byte, accept string) (done bool, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > maxResponse {
			return false, errTooLarge
		}
		return false, nil
	}
	if len(b) > end+4 {
		return true, errEarly
	}
	lines := bytes.Split(b[:end], []byte("\r\n"))
	if !bytes.HasPrefix(lines[0], []byte("HTTP/1.1 101")) {
		return true, errStatus
	}
	for _, l := range lines[1:] {
		name, value, ok := bytes.Cut(l, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Sec-WebSocket-Accept")) {
			if string(bytes.TrimSpace(value)) == accept {
				return true, nil
			}
			return true, errAccept
		}
	}
	return true, errAccept
}
