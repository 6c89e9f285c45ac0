package fanout

import (
	"sync"
	"testing"
	"time"
)

// TestJobQueueOrderAndGrowth pushes past several ring sizes while the
// consumer lags, and checks FIFO order, the bound, and that the drained
// queue gives its memory back once it has stayed empty for trimAfter.
func TestJobQueueOrderAndGrowth(t *testing.T) {
	const total = 5000
	q := newJobQueue(1000)
	q.trimAfter = 50 * time.Millisecond
	if len(q.ring) != 0 {
		t.Fatalf("new queue holds a ring of %d", len(q.ring))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range total {
			q.push(nil, Job{Hdr: i})
		}
		time.Sleep(300 * time.Millisecond) // the worker waits, empty, past trimAfter
		q.close()
	}()
	var got []int
	maxLen := 0
	for {
		if n := q.len(); n > maxLen {
			maxLen = n
		}
		j, ok := q.next()
		if !ok {
			break
		}
		if len(got) == total {
			t.Fatalf("job %d after the last", j.Hdr)
		}
		got = append(got, j.Hdr)
		if len(got)%700 == 0 {
			time.Sleep(5 * time.Millisecond) // let the queue fill up
		}
	}
	wg.Wait()
	if len(got) != total {
		t.Fatalf("got %d jobs, want %d", len(got), total)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("job %d arrived as %d: order broken", i, v)
		}
	}
	if maxLen > 1000 {
		t.Fatalf("queue held %d jobs, bound is 1000", maxLen)
	}
	if maxLen <= keptRing {
		t.Fatalf("queue never grew past %d (max %d): the test did not exercise growth", keptRing, maxLen)
	}
	if len(q.ring) > keptRing {
		t.Fatalf("queue empty for longer than trimAfter kept a ring of %d jobs", len(q.ring))
	}
}

// TestJobQueueBackpressure: a full queue makes push wait until the worker
// frees a slot, and a done channel abandons the wait without queueing.
func TestJobQueueBackpressure(t *testing.T) {
	q := newJobQueue(2)
	q.push(nil, Job{Hdr: 1})
	q.push(nil, Job{Hdr: 2})

	done := make(chan struct{})
	close(done)
	if q.push(done, Job{Hdr: 99}) {
		t.Fatal("push into a full queue with done closed succeeded")
	}
	if q.len() != 2 {
		t.Fatalf("len %d after an abandoned push, want 2", q.len())
	}

	pushed := make(chan struct{})
	go func() {
		q.push(nil, Job{Hdr: 3})
		close(pushed)
	}()
	select {
	case <-pushed:
		t.Fatal("push into a full queue did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	if j, _ := q.tryPop(); j.Hdr != 1 {
		t.Fatalf("popped %d, want 1", j.Hdr)
	}
	select {
	case <-pushed:
	case <-time.After(5 * time.Second):
		t.Fatal("waiting push not released by a pop")
	}
	for _, want := range []int{2, 3} {
		if j, ok := q.tryPop(); !ok || j.Hdr != want {
			t.Fatalf("popped %d (%v), want %d", j.Hdr, ok, want)
		}
	}
	if _, ok := q.tryPop(); ok {
		t.Fatal("abandoned job was queued")
	}
}

// TestJobQueueCloseDrains: jobs queued before close are still delivered.
func TestJobQueueCloseDrains(t *testing.T) {
	q := newJobQueue(10)
	for i := range 3 {
		q.push(nil, Job{Hdr: i})
	}
	q.close()
	for i := range 3 {
		if j, ok := q.next(); !ok || j.Hdr != i {
			t.Fatalf("next = %d, %v; want %d", j.Hdr, ok, i)
		}
	}
	if _, ok := q.next(); ok {
		t.Fatal("next after drain on a closed queue reported a job")
	}
}

// TestJobQueueSteadyStateAllocatesNothing: once its ring exists, a queue
// that never backs up past keptRing allocates nothing per job.
func TestJobQueueSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	q := newJobQueue(4096)
	q.push(nil, Job{})
	q.tryPop()
	allocs := testing.AllocsPerRun(1000, func() {
		for range 10 {
			q.push(nil, Job{Hdr: 1})
		}
		for range 10 {
			q.tryPop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per 10 jobs", allocs)
	}
}

// BenchmarkJobQueue is one job through the queue to a waiting worker.
func BenchmarkJobQueue(b *testing.B) {
	q := newJobQueue(4096)
	done := make(chan struct{})
	go func() {
		for {
			if _, ok := q.next(); !ok {
				close(done)
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		q.push(nil, Job{Hdr: 1})
	}
	q.close()
	<-done
}

// BenchmarkChanQueue is the same through a buffered channel, the queue
// jobQueue replaced, for comparison in one run.
func BenchmarkChanQueue(b *testing.B) {
	q := make(chan Job, 4096)
	done := make(chan struct{})
	go func() {
		for range q {
		}
		close(done)
	}()
	b.ReportAllocs()
	for b.Loop() {
		q <- Job{Hdr: 1}
	}
	close(q)
	<-done
}
