package stompproto

import (
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/poller"
)

// Errors Tick returns to have the server close a session.
var (
	errNoConnect = &frame.ProtocolError{Code: frame.ClosePolicyViolation, Msg: "stomp: no CONNECT frame in time"}
	errSilent    = &frame.ProtocolError{Code: frame.CloseGoingAway, Msg: "stomp: heart-beat timeout"}
)

// connectPoll is how often a session waiting for CONNECT is ticked.
const connectPoll = 100 * time.Millisecond

// Tick implements protocol.Ticker: the CONNECT deadline, heart-beats to
// send (an EOL) and heart-beats expected (silence past the negotiated
// interval, plus half of it and a second, closes the session).
func (p *Protocol) Tick(c protocol.Conn, now time.Time) (time.Duration, error) {
	s := sessionOf(c)
	if s == nil {
		return 0, nil
	}
	n := now.UnixNano()
	switch s.state.Load() {
	case stateNew:
		left := s.opened.Load() + int64(p.o.ConnectTimeout) - n
		if left > 0 {
			// Tick again soon: CONNECT (due any moment) may start
			// heart-beats, which only a Tick sends.
			return min(time.Duration(left), connectPoll), nil
		}
		p.countError(errConnectTimeout)
		queueError(c, "no CONNECT frame within "+p.o.ConnectTimeout.String())
		return 0, errNoConnect
	case stateConnected:
	default:
		return 0, nil
	}
	var next int64
	if send := s.hbSend.Load(); send > 0 {
		early := send / 10 // the wheel fires late by up to a tick: send a little early
		if s.nextSend == 0 {
			s.nextSend = n + send
		}
		if n >= s.nextSend-early {
			eolFrame.Retain()
			if first, ok := c.Queue(eolFrame); first && ok {
				c.Flush()
			}
			eolFrame.Release()
			s.nextSend = n + send
		}
		next = s.nextSend - early - n
	}
	if recv := s.hbRecv.Load(); recv > 0 {
		if s.heard.Swap(false) || s.lastHeard == 0 {
			s.lastHeard = n
		}
		limit := recv + recv/2 + int64(heartBeatGrace)
		if n-s.lastHeard > limit {
			p.countError(errHeartBeat)
			if p.sm != nil {
				p.sm.HeartBeatTimeouts.Inc()
			}
			queueError(c, "no heart-beat from the client")
			return 0, errSilent
		}
		left := s.lastHeard + limit - n + int64(time.Millisecond)
		if next == 0 || left < next {
			next = left
		}
	}
	return time.Duration(max(next, int64(time.Millisecond))), nil
}

// queueError queues an ERROR frame from any goroutine, ahead of the close
// that follows it.
func queueError(c protocol.Conn, msg string) {
	var tmp [256]byte
	body := stomp.AppendError(tmp[:0], msg, nil, nil)
	b := poller.NewBuf(frame.HeaderSize(len(body), false) + len(body))
	b.B = frame.AppendFrame(b.B, true, 0, frame.OpText, body)
	c.Queue(b)
	b.Release()
}
