package server

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
)

// sweepEvery is how often each worker drops the history messages past
// their age.
const sweepEvery = time.Second

// newHistory builds the history store the configuration asks for: nil
// when no rule gives a room history, the Replicated store over the
// cluster's JetStream stream, or the Memory store of this process.
func (s *Server) newHistory(cfg *config.Config) (history.Store, error) {
	if len(cfg.History) == 0 {
		return nil, nil
	}
	rules := make([]history.Rule, len(cfg.History))
	for i, r := range cfg.History {
		rules[i] = history.Rule{Pattern: r.Pattern, Count: r.Count, MaxAge: r.MaxAge, MaxBytes: r.MaxBytes}
	}
	if cfg.HistoryInJetStream() {
		return s.newReplicatedHistory(cfg, rules)
	}
	return history.NewMemory(history.Config{Rules: rules, MaxBytes: cfg.HistoryMemory, Workers: cfg.Workers})
}

// attachHistory gives a Replicated store the pool whose workers own the
// rooms.
func (s *Server) attachHistory() {
	if s.hlog != nil {
		s.hlog.store.Attach(s.pool)
	}
}

// keeps reports whether room keeps history.
func (s *Server) keeps(room string) bool { return s.hist != nil && s.hist.Keeps(room) }

// sweepHistory asks every worker, once per sweepEvery, to drop its
// expired history, until stop closes.
func (s *Server) sweepHistory(stop <-chan struct{}) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	ctl := sweepControl{s.hist}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.pool.Broadcast(ctl)
		}
	}
}

// sweepControl runs a history sweep on the worker that gets it.
type sweepControl struct{ h history.Store }

func (c sweepControl) Apply(d *fanout.Delivery) bool {
	c.h.Sweep(d.Worker(), time.Now())
	return false
}

// readControl reads a room's history on the room's worker, in order with
// its messages: the page is a consistent cut of the room's stream.
type readControl struct {
	h     history.Store
	after uint64
	limit int
	done  chan history.Page
}

func (c *readControl) Apply(d *fanout.Delivery) bool {
	c.done <- c.h.Read(d.Worker(), d.Job().Room, c.after, c.limit)
	return false
}

// countControl lists the latest offset of each of a worker's rooms.
type countControl struct {
	h    history.Store
	done chan map[string]uint64
}

func (c *countControl) Apply(d *fanout.Delivery) bool {
	m := map[string]uint64{}
	c.h.Rooms(d.Worker(), func(room string, pos history.Position) { m[room] = pos.Offset })
	c.done <- m
	return false
}

// History implements admin.HistoryBackend.
func (b *adminBackend) History(ctx context.Context, room string, after uint64, limit int) (admin.HistoryPage, bool, error) {
	s := b.srv()
	if !s.keeps(room) {
		return admin.HistoryPage{}, false, nil
	}
	if s.hlog != nil {
		p, err := s.hlog.store.ReadLog(ctx, room, after, limit)
		if err != nil {
			return admin.HistoryPage{}, true, admin.ErrOverloaded
		}
		return historyPage(p), true, nil
	}
	rc := &readControl{h: s.hist, after: after, limit: limit, done: make(chan history.Page, 1)}
	if err := s.pool.Submit(ctx, fanout.Job{Room: room, Ctl: rc}); err != nil {
		if errors.Is(err, fanout.ErrStopped) {
			return admin.HistoryPage{}, true, admin.ErrDraining
		}
		return admin.HistoryPage{}, true, admin.ErrOverloaded
	}
	var p history.Page
	select {
	case p = <-rc.done:
	case <-ctx.Done():
		return admin.HistoryPage{}, true, admin.ErrOverloaded
	}
	return historyPage(p), true, nil
}

// historyPage is the admin API's form of a page of history.
func historyPage(p history.Page) admin.HistoryPage {
	out := admin.HistoryPage{Epoch: p.Epoch, First: p.First, Last: p.Last, Complete: p.Complete,
		Messages: make([]admin.HistoryMessage, len(p.Messages))}
	for i, m := range p.Messages {
		hm := &out.Messages[i]
		hm.Offset, hm.Time, hm.From = m.Offset, m.Time.UTC(), m.From
		hm.TextPayload(m.Payload, m.Binary)
	}
	return out
}

// RoomMessages implements admin.HistoryBackend: each worker lists its
// rooms' latest offsets.
func (b *adminBackend) RoomMessages(ctx context.Context) (map[string]uint64, error) {
	s := b.srv()
	if s.hist == nil {
		return nil, nil
	}
	cc := &countControl{h: s.hist, done: make(chan map[string]uint64, s.cfg.Workers)}
	n := s.pool.Broadcast(cc)
	all := map[string]uint64{}
	for range n {
		select {
		case m := <-cc.done:
			for k, v := range m {
				all[k] = v
			}
		case <-ctx.Done():
			return all, ctx.Err()
		}
	}
	return all, nil
}

// historyCollector exposes the history store's counters on /metrics,
// read once per scrape.
type historyCollector struct {
	h  history.Store
	lg *historyLog // nil unless history is in the cluster's stream
}

var (
	histRoomsDesc = prometheus.NewDesc("wsgate_history_rooms", "Rooms with history state (messages kept, or an epoch to resume in).", nil, nil)
	histMsgsDesc  = prometheus.NewDesc("wsgate_history_messages", "Messages kept in rooms' history.", nil, nil)
	histBytesDesc = prometheus.NewDesc("wsgate_history_bytes",
		"Memory that history holds, as the -history-memory cap counts it (payloads and bookkeeping).", nil, nil)
	histDroppedDesc = prometheus.NewDesc("wsgate_history_dropped_total",
		"Kept messages dropped before their rule's count: past their age, or to stay under -history-memory.", []string{"cause"}, nil)
	histResumesDesc = prometheus.NewDesc("wsgate_history_resumes_total",
		"Joins that asked to resume (since), by result: recovered (every missed message replayed) or missed (the client must reload).", []string{"result"}, nil)
	histAppendsDesc = prometheus.NewDesc("wsgate_history_appends_total",
		"Messages published on this node to the history stream (JetStream), by result: ok (the stream acknowledged them) or failed (refused or not sent: no member got them).", []string{"result"}, nil)
	histCatchupsDesc = prometheus.NewDesc("wsgate_history_catchups_total",
		"Times this node read from the history stream messages it had not received before delivering newer ones.", nil, nil)
	histGapsDesc = prometheus.NewDesc("wsgate_history_gaps_total",
		"Times members of this node missed messages because the history stream no longer held them when the node noticed (a long outage).", nil, nil)
	histFetchesDesc = prometheus.NewDesc("wsgate_history_fetches_total",
		"Reads of the history stream for resumes from before what this node holds.", nil, nil)
)

func (c historyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{histRoomsDesc, histMsgsDesc, histBytesDesc, histDroppedDesc, histResumesDesc,
		histAppendsDesc, histCatchupsDesc, histGapsDesc, histFetchesDesc} {
		ch <- d
	}
}

func (c historyCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(histRoomsDesc, prometheus.GaugeValue, float64(st.Rooms))
	ch <- prometheus.MustNewConstMetric(histMsgsDesc, prometheus.GaugeValue, float64(st.Messages))
	ch <- prometheus.MustNewConstMetric(histBytesDesc, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(histDroppedDesc, prometheus.CounterValue, float64(st.Expired), "age")
	ch <- prometheus.MustNewConstMetric(histDroppedDesc, prometheus.CounterValue, float64(st.Evicted), "memory")
	ch <- prometheus.MustNewConstMetric(histResumesDesc, prometheus.CounterValue, float64(st.Recovered), "recovered")
	ch <- prometheus.MustNewConstMetric(histResumesDesc, prometheus.CounterValue, float64(st.Missed), "missed")
	if c.lg != nil {
		var bs broker.HistoryState
		if c.lg.h != nil {
			bs = c.lg.h.State()
		}
		ch <- prometheus.MustNewConstMetric(histAppendsDesc, prometheus.CounterValue, float64(bs.Acked), "ok")
		ch <- prometheus.MustNewConstMetric(histAppendsDesc, prometheus.CounterValue, float64(bs.Failed+st.AppendFailed), "failed")
		ch <- prometheus.MustNewConstMetric(histCatchupsDesc, prometheus.CounterValue, float64(st.Fills))
		ch <- prometheus.MustNewConstMetric(histGapsDesc, prometheus.CounterValue, float64(st.Gaps))
		ch <- prometheus.MustNewConstMetric(histFetchesDesc, prometheus.CounterValue, float64(st.Fetches))
	}
}
