package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/wsgate/wsgate/frame"

	"github.com/wsgate/wsgate/loadtest/stats"
	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// Broadcast roles, kept in wsclient.Conn.Tag.
const (
	tagSubscriber = 0
	tagPublisher  = 1
)

// bcastEvents drives the broadcast scenario: subscribers check every
// delivery's (publisher, sequence) and latency. Publisher connections are
// room members too: what they receive (the other publishers' messages, and
// their own when the server echoes to the sender) is counted in
// publisher_msgs_in, apart from the subscribers' deliveries.
type bcastEvents struct {
	e    *env
	pubs int // publishers over all workers
	mu   sync.Mutex
	pubc map[uint32]*wsclient.Conn // guarded by mu: open publisher connections by publisher id
}

func (ev *bcastEvents) Open(c *wsclient.Conn) {
	if c.Tag == tagPublisher {
		ev.mu.Lock()
		ev.pubc[c.ID&^pubConnBit] = c
		ev.mu.Unlock()
		return
	}
	c.State = make([]seqTracker, ev.pubs)
	c.Recorder().C.Subscribers.Add(1)
}

// pubConnBit marks the connection id of a publisher connection; the low
// bits are the publisher id.
const pubConnBit = 1 << 31

func (ev *bcastEvents) Message(c *wsclient.Conn, op frame.Opcode, p []byte) {
	now := time.Now().UnixNano()
	countIn(c, p)
	rec := c.Recorder()
	trk, _ := c.State.([]seqTracker)
	ts, id, seq, ok := parseStamp(p)
	if c.Tag == tagPublisher {
		if !ok {
			if code := serverErrorCode(p); code != "" {
				rec.ErrorFrame(code)
				return
			}
		}
		rec.C.PublisherMsgsIn.Add(1)
		return
	}
	if !ok || int(id) >= len(trk) || seq == 0 {
		if code := serverErrorCode(p); code != "" {
			rec.ErrorFrame(code)
			return
		}
		rec.C.Corrupt.Add(1)
		return
	}
	switch trk[id].observe(seq) {
	case seqDuplicate:
		rec.C.Duplicates.Add(1)
		return
	case seqReordered:
		rec.C.Reordered.Add(1)
	}
	rec.C.Delivered.Add(1)
	rec.Record(stats.KindMessage, c.ID, time.Duration(now-ts))
}

func (ev *bcastEvents) Close(*wsclient.Conn, bool, string) {}
func (ev *bcastEvents) Fail(*wsclient.Conn, string, error) {}

// runBroadcast connects the subscribers and this worker's publishers, waits
// for every worker, publishes for Duration, and drains deliveries.
func runBroadcast(ctx context.Context, e *env) error {
	cfg := e.cfg
	ev := &bcastEvents{e: e, pubs: cfg.Publishers, pubc: map[uint32]*wsclient.Conn{}}
	var myPubs []uint32
	for p := cfg.WorkerIndex; p < cfg.Publishers; p += cfg.Workers {
		myPubs = append(myPubs, uint32(p))
	}
	n := cfg.share(cfg.Conns)
	e.ramp(ctx, n, func(i int) { e.dialRole(i, e.target(i), ev, tagSubscriber) })
	if cfg.PublishURL == "" {
		for k, id := range myPubs {
			_, _ = e.cl.Dial(e.pubTarget(k), ev, pubConnBit|id, tagPublisher)
		}
	}
	want := int64(n)
	if cfg.PublishURL == "" {
		want += int64(len(myPubs))
	}
	e.waitOpen(ctx, want)
	sleepCtx(ctx, 200*time.Millisecond) // let the server register the joins
	if e.barrier != nil {
		if err := e.barrier(ctx); err != nil {
			return err
		}
	}
	e.startMeasure()
	start := time.Now()
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for _, id := range myPubs {
		wg.Add(1)
		go func(id uint32) {
			defer wg.Done()
			ev.publish(ctx, id, start, end)
		}(id)
	}
	wg.Wait()
	e.stopMeasure()
	e.drainBroadcast(ctx)
	return nil
}

// pubInterval is the time between two messages of one publisher.
func (e *env) pubInterval() time.Duration {
	return time.Duration(float64(time.Second) * float64(e.cfg.Publishers) / e.cfg.PubRate)
}

// drainBroadcast waits, at most Drain, until every local subscriber has
// every message of every publisher. Each publisher's schedule has the same,
// known number of slots, so this works across worker processes too.
func (e *env) drainBroadcast(ctx context.Context) {
	iv := e.pubInterval()
	slots := int64((e.cfg.Duration + iv - 1) / iv)
	c := &e.rec.C
	e.drain(ctx, func() bool {
		return c.Delivered.Load() >= c.Subscribers.Load()*int64(e.cfg.Publishers)*slots
	})
}

// publish sends publisher id's messages at its share of PubRate until end.
// The stamp carries the intended send time.
func (ev *bcastEvents) publish(ctx context.Context, id uint32, start, end time.Time) {
	e := ev.e
	interval := e.pubInterval()
	p := newPayload(e.cfg.Size, uint64(id)+7)
	op := frame.OpText
	if e.cfg.Binary && e.cfg.PublishURL == "" {
		op = frame.OpBinary
	}
	var hc *http.Client
	if e.cfg.PublishURL != "" {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	for seq := uint64(1); ctx.Err() == nil; seq++ {
		due := start.Add(time.Duration(seq-1) * interval)
		if !due.Before(end) {
			return
		}
		if d := time.Until(due); d > 0 {
			if !sleepCtx(ctx, d) {
				return
			}
		} else if -d > time.Millisecond {
			e.rec.C.Late.Add(1)
		}
		putStamp(p, due.UnixNano(), id, seq)
		var err error
		if hc != nil {
			err = ev.publishHTTP(hc, p)
		} else {
			err = ev.publishWS(id, op, p)
		}
		if err != nil {
			e.rec.C.PublishFailed.Add(1)
			continue
		}
		e.rec.C.Published.Add(1)
	}
}

func (ev *bcastEvents) publishWS(id uint32, op frame.Opcode, p []byte) error {
	ev.mu.Lock()
	c := ev.pubc[id]
	ev.mu.Unlock()
	if c == nil {
		return wsclient.ErrNotOpen
	}
	return c.Send(op, p)
}

// publishRequest is the admin API's body: POST /api/publish.
type publishRequest struct {
	Room    string `json:"room"`
	Payload string `json:"payload"`
}

func (ev *bcastEvents) publishHTTP(hc *http.Client, p []byte) error {
	body, _ := json.Marshal(publishRequest{Room: ev.e.cfg.Room, Payload: string(p)})
	resp, err := hc.Post(ev.e.cfg.PublishURL, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &wsclient.StatusError{Code: resp.StatusCode}
	}
	return nil
}
