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
	n := p.now(now)
	switch s.state.Load() {
	case stateNew:
		left := p.o.ConnectTimeout - elapsed(n, s.since.Load())
		if left > 0 {
			// Tick again soon: CONNECT (due any moment) may start
			// heart-beats, which only a Tick sends.
			return min(left, connectPoll), nil
		}
		p.countError(errConnectTimeout)
		queueError(c, "no CONNECT frame within "+p.o.ConnectTimeout.String())
		return 0, errNoConnect
	case stateConnected:
	default:
		return 0, nil
	}
	var next time.Duration
	if send := s.hbSend.Load(); send > 0 {
		early := send / 10 // the wheel fires late by up to a tick: send a little early
		if s.nextSend == 0 {
			s.nextSend = dueAt(n + send)
		}
		if int32(n-(s.nextSend-early)) >= 0 {
			eolFrame.Retain()
			if first, ok := c.Queue(eolFrame); first && ok {
				c.Flush()
			}
			eolFrame.Release()
			s.nextSend = dueAt(n + send)
		}
		next = ms(s.nextSend - early - n)
	}
	if recv := s.hbRecv.Load(); recv > 0 {
		if s.heard.Swap(false) {
			s.since.Store(n)
		}
		silent := elapsed(n, s.since.Load())
		limit := ms(recv) + ms(recv)/2 + heartBeatGrace
		if silent > limit {
			p.countError(errHeartBeat)
			if p.sm != nil {
				p.sm.HeartBeatTimeouts.Inc()
			}
			queueError(c, "no heart-beat from the client")
			return 0, errSilent
		}
		if left := limit - silent + time.Millisecond; next == 0 || left < next {
			next = left
		}
	}
	if next == 0 {
		return noHeartBeats, nil
	}
	return max(next, time.Millisecond), nil
}

// ms converts a difference of session clock readings (or an interval) to
// a duration.
func ms(d uint32) time.Duration { return time.Duration(d) * time.Millisecond }

// elapsed is the time from since to now on the session clock, 0 when
// since is later (another goroutine read the clock after now was taken).
func elapsed(now, since uint32) time.Duration { return ms(uint32(max(int32(now-since), 0))) }

// dueAt is t as a nextSend value: never 0, which means "not set".
func dueAt(t uint32) uint32 { return max(t, 1) }

// noHeartBeats is the next Tick a session without heart-beats asks for:
// none sooner than the server's own checks of the connection (a session
// ticked every wheel tick would cost an idle server CPU for nothing).
const noHeartBeats = time.Hour

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
