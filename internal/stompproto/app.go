package stompproto

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/stomp"
)

// AppOptions configures /app forwarding.
type AppOptions struct {
	// URL receives one HTTP POST per SEND to /app/...; empty disables
	// forwarding (such SENDs get an ERROR).
	URL string
	// Timeout bounds one forward, answer included; default 5s.
	Timeout time.Duration
	// Workers is how many forwards run at once (default 16); Queue how
	// many may wait for a worker (default 1024).
	Workers, Queue int
	// Client makes the requests; default a plain http.Client.
	Client *http.Client
}

// AppRequest is the JSON body of a forward: the SEND as the backend sees
// it. Body is the text, or base64 with Encoding "base64" for binary.
type AppRequest struct {
	Destination string            `json:"destination"`
	User        string            `json:"user,omitempty"`
	Session     string            `json:"session"`
	Headers     map[string]string `json:"headers"`
	Body        string            `json:"body"`
	Encoding    string            `json:"encoding,omitempty"`
}

// AppAnswer is what the backend may answer (200 with a JSON object, or
// 204 / an empty body for nothing): messages to send on.
type AppAnswer struct {
	Messages []AppMessage `json:"messages"`
}

// AppMessage is one message of an AppAnswer. Destination is /topic/NAME,
// or /user/queue/NAME (the sender's user, or the sender's session when it
// is anonymous). Body is text, or base64 with Binary.
type AppMessage struct {
	Destination string `json:"destination"`
	Body        string `json:"body"`
	Binary      bool   `json:"binary"`
}

// forward is one SEND on its way to the backend.
type forward struct {
	s   *session
	req AppRequest
}

// forwarder runs forwards on a bounded pool of goroutines, never on an
// event loop.
type forwarder struct {
	p      *Protocol
	o      AppOptions
	jobs   chan forward
	wg     sync.WaitGroup
	closed sync.Once
}

func newForwarder(p *Protocol, o AppOptions) *forwarder {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.Queue <= 0 {
		o.Queue = 1024
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	f := &forwarder{p: p, o: o, jobs: make(chan forward, o.Queue)}
	for range o.Workers {
		f.wg.Add(1)
		go f.work()
	}
	return f
}

func (f *forwarder) stop() {
	f.closed.Do(func() { close(f.jobs) })
	f.wg.Wait()
}

// forward queues a SEND to /app for the backend; false when it failed the
// session (no backend configured). A full queue is reported on the
// sender's /user/queue/errors and the session goes on.
func (s *session) forward(m outgoing, rid []byte) bool {
	p := s.p
	if p.app == nil {
		s.fail(errApp, "no application backend: SEND to "+m.dest+" is not served here", rid, frame.CloseProtocolError)
		return false
	}
	req := AppRequest{Destination: m.dest, User: s.user(), Session: p.sessionID(s.num), Headers: map[string]string{}}
	if m.headers != nil {
		for i := range m.headers.Len() {
			k, v := m.headers.At(i)
			switch string(k) {
			case stomp.HeaderDestination, stomp.HeaderContentLength, stomp.HeaderReceipt, stomp.HeaderTransaction:
				continue
			}
			if _, dup := req.Headers[string(k)]; !dup {
				req.Headers[string(k)] = string(v)
			}
		}
	} else if len(m.ctype) > 0 {
		req.Headers[stomp.HeaderContentType] = string(m.ctype)
	}
	if frame.ValidUTF8(m.body) {
		req.Body = string(m.body)
	} else {
		req.Body, req.Encoding = base64.StdEncoding.EncodeToString(m.body), "base64"
	}
	select {
	case p.app.jobs <- forward{s: s, req: req}:
	default:
		p.app.count(metrics.AppOverloaded)
		s.sendError(m.dest, "application backend busy: message to "+m.dest+" dropped")
	}
	return true
}

func (f *forwarder) count(i int) {
	if f.p.sm != nil {
		f.p.sm.AppForwards[i].Inc()
	}
}

func (f *forwarder) work() {
	defer f.wg.Done()
	for j := range f.jobs {
		if err := f.do(j); err != nil {
			f.count(metrics.AppFailed)
			f.p.log.Warn("stomp: /app forward failed", "destination", j.req.Destination, "err", err)
			j.s.sendError(j.req.Destination, "application backend failed for "+j.req.Destination+": "+err.Error())
			continue
		}
		f.count(metrics.AppOK)
	}
}

// maxAnswer bounds a backend's answer.
const maxAnswer = 4 << 20

// do posts one forward and sends on what the answer lists.
func (f *forwarder) do(j forward) error {
	body, err := json.Marshal(j.req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.o.Timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, f.o.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := f.o.Client.Do(r)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errors.New("timed out")
		}
		return errors.New("unreachable")
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return errors.New("answer not read")
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var ans AppAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return errors.New("answer is not a JSON object {messages:[...]}")
	}
	for _, m := range ans.Messages {
		if err := f.sendOn(ctx, j.s, m); err != nil {
			return err
		}
	}
	return nil
}

// sendOn delivers one message of a backend's answer.
func (f *forwarder) sendOn(ctx context.Context, s *session, m AppMessage) error {
	payload, op := []byte(m.Body), frame.OpText
	if m.Binary {
		var err error
		if payload, err = base64.StdEncoding.DecodeString(m.Body); err != nil {
			return errors.New("answer: binary body is not base64")
		}
		op = frame.OpBinary
	}
	kind, name, ok := parseDestination(m.Destination)
	switch {
	case ok && kind == destTopic:
		fb, hdr := fanout.FrameBuf(0, op, payload)
		if err := f.p.pool.Submit(ctx, fanout.Job{Room: name, Buf: fb, Hdr: hdr, FromUser: s.user(), JSON: op == frame.OpText && json.Valid(payload), History: f.p.keeps(name)}); err != nil {
			fb.Release()
			return errors.New("fan-out overloaded")
		}
		return nil
	case ok && kind == destUser && !strings.HasPrefix(m.Destination[len("/user/"):], "queue/") && !strings.HasPrefix(m.Destination[len("/user/"):], "topic/"):
		return errors.New("answer: send to the sender's /user/queue/NAME, not " + m.Destination)
	case ok && kind == destUser:
		dest, _ := userDestination(m.Destination)
		if u := s.user(); u != "" {
			return f.p.SendUser(ctx, u, dest, op, payload)
		}
		ct := typeText
		if op == frame.OpBinary {
			ct = typeBinary
		}
		tail := buildTail(f.p.ids.Add(1), ct, payload, "")
		s.deliverDirect(dest, op, tail)
		tail.Release()
		return nil
	}
	return errors.New("answer: cannot send to " + m.Destination)
}
