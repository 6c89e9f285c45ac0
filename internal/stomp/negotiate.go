package stomp

import (
	"bytes"
	"strconv"
	"time"
)

// Version is a STOMP protocol version.
type Version uint8

// The versions this package speaks. The zero Version is invalid.
const (
	V10 Version = iota + 1
	V11
	V12
)

// SupportedVersions lists the versions NegotiateVersion accepts, in the
// form of an accept-version value: the version header of an ERROR frame
// that rejects a CONNECT.
const SupportedVersions = "1.0,1.1,1.2"

// String returns "1.0", "1.1" or "1.2" (the version header's value), or
// "invalid".
func (v Version) String() string {
	switch v {
	case V10:
		return "1.0"
	case V11:
		return "1.1"
	case V12:
		return "1.2"
	}
	return "invalid"
}

// NegotiateVersion returns the highest version listed in acceptVersion, the
// comma separated accept-version header of a CONNECT or STOMP frame:
// 1.2 over 1.1 over 1.0. Spaces around an entry are ignored, unknown entries
// skipped. An empty or missing header (nil) means a STOMP 1.0 client. A
// list without a known version returns ErrNoCommonVersion: answer with an
// ERROR frame carrying version:SupportedVersions.
func NegotiateVersion(acceptVersion []byte) (Version, error) {
	if len(acceptVersion) == 0 {
		return V10, nil
	}
	var best Version
	for rest := acceptVersion; ; {
		i := 0
		for i < len(rest) && rest[i] != ',' {
			i++
		}
		entry := bytes.Trim(rest[:i], " \t")
		var v Version
		switch string(entry) {
		case "1.0":
			v = V10
		case "1.1":
			v = V11
		case "1.2":
			v = V12
		}
		best = max(best, v)
		if i == len(rest) {
			break
		}
		rest = rest[i+1:]
	}
	if best == 0 {
		return 0, ErrNoCommonVersion
	}
	return best, nil
}

// HeartBeat is the value of a heart-beat header, "<send>,<receive>" in
// milliseconds, from the point of view of the frame's sender.
type HeartBeat struct {
	// Send is the smallest interval between heart-beats the sender can
	// guarantee; 0: it cannot send heart-beats.
	Send time.Duration
	// Receive is the interval between heart-beats the sender would like to
	// get; 0: it does not want heart-beats.
	Receive time.Duration
}

// MaxHeartBeatMillis is the largest heart-beat interval ParseHeartBeat
// accepts, in milliseconds (about 24.8 days).
const MaxHeartBeatMillis = 1<<31 - 1

// ParseHeartBeat parses a heart-beat header value "cx,cy" (two decimal
// numbers of milliseconds, no spaces). A missing header (nil or empty)
// means "0,0": no heart-beats either way.
func ParseHeartBeat(v []byte) (HeartBeat, error) {
	if len(v) == 0 {
		return HeartBeat{}, nil
	}
	i := 0
	for i < len(v) && v[i] != ',' {
		i++
	}
	if i == len(v) {
		return HeartBeat{}, ErrBadHeartBeat
	}
	send, ok1 := parseMillis(v[:i])
	recv, ok2 := parseMillis(v[i+1:])
	if !ok1 || !ok2 {
		return HeartBeat{}, ErrBadHeartBeat
	}
	return HeartBeat{Send: send, Receive: recv}, nil
}

// parseMillis parses 1 to 10 decimal digits of milliseconds, at most
// MaxHeartBeatMillis.
func parseMillis(b []byte) (time.Duration, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > MaxHeartBeatMillis {
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

// AppendHeartBeat appends hb as a heart-beat header value, "cx,cy" in
// milliseconds. Durations are rounded up to whole milliseconds (so a
// positive one never becomes 0) and clamped to [0, MaxHeartBeatMillis].
func AppendHeartBeat(dst []byte, hb HeartBeat) []byte {
	dst = strconv.AppendInt(dst, millis(hb.Send), 10)
	dst = append(dst, ',')
	return strconv.AppendInt(dst, millis(hb.Receive), 10)
}

func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return min((int64(d)+int64(time.Millisecond)-1)/int64(time.Millisecond), MaxHeartBeatMillis)
}

// String returns hb in its header form, "cx,cy".
func (hb HeartBeat) String() string { return string(AppendHeartBeat(nil, hb)) }

// Negotiate applies the STOMP heart-beat rule for the side whose own header
// is hb after receiving peer's. It returns how often this side must send
// something (an EOL if it has nothing else) and how often it should hear
// from the peer; 0 means never. A direction is active only when its sender
// can send and its receiver wants heart-beats; its interval is then the
// larger of the two numbers. A server calls
// serverHB.Negotiate(clientHB), a client clientHB.Negotiate(serverHB).
// The receiving side should allow a margin before it declares the peer
// dead.
func (hb HeartBeat) Negotiate(peer HeartBeat) (send, receive time.Duration) {
	if hb.Send > 0 && peer.Receive > 0 {
		send = max(hb.Send, peer.Receive)
	}
	if peer.Send > 0 && hb.Receive > 0 {
		receive = max(peer.Send, hb.Receive)
	}
	return send, receive
}
