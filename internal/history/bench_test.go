package history_test

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/jsonmux"
)

// envSub is a /ws member that is not a socket: it takes the envelope, as
// a connection does (a reference to the shared buffer), and lets it go.
type envSub struct{ f fanout.Format }

func (s *envSub) Deliver(d *fanout.Delivery) (bool, bool) {
	b := d.Variant(s.f, 0)
	b.Retain()
	b.Release()
	return false, true
}
func (s *envSub) Flush() {}

// replayCtl replays since to its subscriber, as a resuming join does.
type replayCtl struct {
	st    history.Store
	since history.Since
	sub   fanout.Subscriber
	n     int
}

func (c *replayCtl) Apply(d *fanout.Delivery) bool {
	c.st.Replay(d.Worker(), d.Job().Room, c.since, 1<<30, func(j fanout.Job) {
		d.DeliverTo(c.sub, j)
		c.n++
	})
	return false
}

func newStore(b *testing.B, capBytes int64, rules ...history.Rule) *history.Memory {
	m, err := history.NewMemory(history.Config{Rules: rules, MaxBytes: capBytes, Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkHistoryFanout10k is one /ws message to 10,000 members (the
// JSON envelope built once, a reference handed to each member), to a room
// with history and to one without, in turns, so both see the same machine
// load: the worker's whole cost per message, without sockets, so
// history's share is not hidden behind system calls. It reports each
// room's deliveries/s and what history costs in per cent.
func BenchmarkHistoryFanout10k(b *testing.B) {
	st := newStore(b, 1<<30, history.Rule{Pattern: "h.*", Count: 1000, MaxAge: time.Hour})
	h := hub.New[fanout.Subscriber](0)
	p := fanout.New(fanout.Config{Workers: 1, Recorder: st}, h)
	jm := jsonmux.New(p, nil)
	for range 10000 {
		s := &envSub{f: jm.Format()}
		h.Join("h.room", s)
		h.Join("p.room", s)
	}
	p.Start()
	defer p.Stop()
	payload := []byte(`{"event":"tick","symbol":"WSG","price":101.25,"volume":4200}`)
	var spent [2]time.Duration // off, on
	var ratios []float64       // per pair: time with history over time without
	send := func(on bool) time.Duration {
		room := "p.room"
		if on {
			room = "h.room"
		}
		t := time.Now()
		buf, hdr := fanout.FrameBuf(0, frame.OpText, payload)
		if err := p.Submit(b.Context(), fanout.Job{Room: room, Buf: buf, Hdr: hdr, JSON: true, History: on}); err != nil {
			b.Fatal(err)
		}
		if err := p.Fence(b.Context()); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t)
		if on {
			spent[1] += d
		} else {
			spent[0] += d
		}
		return d
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		first := i%2 == 0
		a, c := send(first), send(!first)
		if !first {
			a, c = c, a
		}
		ratios = append(ratios, float64(a)/float64(c))
		i++
	}
	b.ReportMetric(float64(b.N)*10000/spent[0].Seconds(), "off-deliveries/s")
	b.ReportMetric(float64(b.N)*10000/spent[1].Seconds(), "on-deliveries/s")
	sort.Float64s(ratios)
	b.ReportMetric(100*(ratios[len(ratios)/2]-1), "history-cost-%")
}

// BenchmarkHistoryMemory reports what the store holds per 1,000 messages
// kept: the live heap it adds (payload buffers, ring entries, room state),
// measured after a collection, and its own account of it (which the
// memory cap compares with -history-memory).
func BenchmarkHistoryMemory(b *testing.B) {
	for _, tc := range []struct {
		size, rooms int
	}{{64, 1}, {512, 1}, {4000, 1}, {64, 1000}} {
		b.Run(fmt.Sprintf("payload=%dB/rooms=%d", tc.size, tc.rooms), func(b *testing.B) {
			const msgs = 100_000
			payload := []byte(strings.Repeat("x", tc.size))
			var heap, account float64
			for b.Loop() {
				st := newStore(b, 1<<40, history.Rule{Pattern: ">", Count: msgs})
				before := liveHeap()
				for i := range msgs {
					buf, hdr := fanout.FrameBuf(0, frame.OpText, payload)
					j := fanout.Job{Room: fmt.Sprint("room.", i%tc.rooms), Buf: buf, Hdr: hdr, History: true}
					st.Record(0, &j)
					buf.Release()
				}
				heap = float64(liveHeap()-before) / (msgs / 1000)
				account = float64(st.Stats().Bytes) / (msgs / 1000)
				runtime.KeepAlive(st)
			}
			b.ReportMetric(heap, "heap-B/1k-msgs")
			b.ReportMetric(account, "counted-B/1k-msgs")
		})
	}
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// BenchmarkHistoryReplay1000 is a resume that replays 1,000 messages to
// one /ws member on the room's worker (each message's envelope built for
// that member), without sockets.
func BenchmarkHistoryReplay1000(b *testing.B) {
	st := newStore(b, 1<<30, history.Rule{Pattern: "h.*", Count: 1000})
	h := hub.New[fanout.Subscriber](0)
	p := fanout.New(fanout.Config{Workers: 1, Recorder: st}, h)
	jm := jsonmux.New(p, nil)
	p.Start()
	defer p.Stop()
	payload := []byte(`{"event":"tick","symbol":"WSG","price":101.25,"volume":4200}`)
	var epoch string
	for range 1000 {
		buf, hdr := fanout.FrameBuf(0, frame.OpText, payload)
		j := fanout.Job{Room: "h.r", Buf: buf, Hdr: hdr, JSON: true, History: true}
		if err := p.Submit(b.Context(), j); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Fence(b.Context()); err != nil {
		b.Fatal(err)
	}
	epoch = st.Read(0, "h.r", 999, 1).Epoch
	ctl := &replayCtl{st: st, since: history.Since{Kind: history.SinceOffset, Offset: 0, Epoch: epoch}, sub: &envSub{f: jm.Format()}}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Submit(b.Context(), fanout.Job{Room: "h.r", Ctl: ctl}); err != nil {
			b.Fatal(err)
		}
		if err := p.Fence(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	if ctl.n != 1000*b.N {
		b.Fatalf("replayed %d, want %d", ctl.n, 1000*b.N)
	}
	b.ReportMetric(float64(ctl.n)/b.Elapsed().Seconds(), "msgs/s")
}
