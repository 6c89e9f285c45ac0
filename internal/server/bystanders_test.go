package server_test

// Bystanders: a crowd of well-behaved clients that share a server with a
// test's misbehaving ones. Each security test runs them while it
// floods, storms, forges tokens or lets tokens expire, and ends with
// check: every bystander's echoes came back exactly and in order, every
// message published to the bystanders' room reached every other member
// exactly once and in order, and every bystander is still connected.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

// bystanderOpts shape a crowd; the zero value of each field picks the
// default in its comment.
type bystanderOpts struct {
	// N is the number of clients. Default 200.
	N int
	// RoomMembers of them join Room; the rest echo. Default N/4.
	RoomMembers int
	// Publishers is how many room members publish. Default 8.
	Publishers int
	// Room is the bystanders' room. Default "bystanders".
	Room string
	// PerIP is how many clients share one source address, counted up from
	// FirstIP, so per-address limits aimed at a test's own clients do not
	// hit them. Default 25 (under the default connection-rate burst, 50).
	PerIP int
	// FirstIP is the first source address. Default 127.0.1.1, away from
	// the 127.0.0.x addresses tests storm from.
	FirstIP string
	// Token returns the token for user, or "" for none. Nil: no tokens
	// (an anonymous server).
	Token func(user string) string
	// EchoEvery and PublishEvery pace each echo client and each
	// publisher (polite: far under every default limit). Defaults 250ms
	// and 300ms.
	EchoEvery, PublishEvery time.Duration
}

// bystanders is a running crowd.
type bystanders struct {
	tb      testing.TB
	addr    string
	opts    bystanderOpts
	echo    []*bystander
	room    []*bystander // room[:Publishers] publish
	stop    chan struct{}
	writers sync.WaitGroup
	readers sync.WaitGroup
	ending  atomic.Bool // connections are being closed on purpose
	stopped sync.Once
	closed  sync.Once

	mu   sync.Mutex
	errs []string
}

// bystander is one client. An echo client is driven by one goroutine that
// writes and reads; a room member has a reader goroutine and, when it
// publishes, a writer goroutine.
type bystander struct {
	idx   int // index among its kind
	user  string
	token string
	c     *wstest.Conn
	dead  atomic.Bool // read error, close frame or wrong message seen

	echoed atomic.Int64 // echo: round trips completed
	sent   atomic.Int64 // publisher: messages published
	// next[p] is the next sequence number expected from publisher p
	// (room members only; written by the reader goroutine).
	next  []atomic.Int64
	pongs atomic.Int64 // pongs with the liveness payload
}

// startBystanders connects the crowd to addr, all at once, and starts
// their traffic. Call check at the end of the test; the connections are
// closed when the test ends.
func startBystanders(tb testing.TB, addr string, o bystanderOpts) *bystanders {
	tb.Helper()
	if o.N == 0 {
		o.N = 200
	}
	if o.RoomMembers == 0 {
		o.RoomMembers = o.N / 4
	}
	if o.Publishers == 0 {
		o.Publishers = min(8, o.RoomMembers)
	}
	if o.Room == "" {
		o.Room = "bystanders"
	}
	if o.PerIP == 0 {
		o.PerIP = 25
	}
	if o.FirstIP == "" {
		o.FirstIP = "127.0.1.1"
	}
	if o.EchoEvery == 0 {
		o.EchoEvery = 250 * time.Millisecond
	}
	if o.PublishEvery == 0 {
		o.PublishEvery = 300 * time.Millisecond
	}
	b := &bystanders{tb: tb, addr: addr, opts: o, stop: make(chan struct{})}
	first, err := netip.ParseAddr(o.FirstIP)
	if err != nil {
		tb.Fatalf("bystanders: FirstIP: %v", err)
	}
	all := make([]*bystander, o.N)
	for i := range all {
		by := &bystander{user: "bystander-" + strconv.Itoa(i)}
		if o.Token != nil {
			by.token = o.Token(by.user) // on the test goroutine: Token may fail tb
		}
		if i < o.RoomMembers {
			by.idx = i
			by.next = make([]atomic.Int64, o.Publishers)
			b.room = append(b.room, by)
		} else {
			by.idx = i - o.RoomMembers
			b.echo = append(b.echo, by)
		}
		all[i] = by
	}
	tb.Cleanup(b.close)
	// Dial everyone at once, a few at a time per worker.
	errc := make(chan error, o.N)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errc <- b.dial(all[i], i, first)
			}
		}()
	}
	for i := range all {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			tb.Fatalf("bystanders: %v", err)
		}
	}
	for _, by := range b.room {
		b.readers.Add(1)
		go b.readRoom(by)
	}
	for _, by := range b.room[:o.Publishers] {
		b.writers.Add(1)
		go b.publish(by)
	}
	for _, by := range b.echo {
		b.writers.Add(1)
		go b.echoLoop(by)
	}
	return b
}

// sourceIP is the i-th client's source address.
func (b *bystanders) sourceIP(first netip.Addr, i int) netip.Addr {
	a := first
	for range i / b.opts.PerIP {
		a = a.Next()
	}
	return a
}

func (b *bystanders) dial(by *bystander, i int, first netip.Addr) error {
	path := "/echo"
	if by.next != nil {
		path = "/room/" + b.opts.Room
	}
	var extra []string
	if by.token != "" {
		extra = append(extra, "Authorization: Bearer "+by.token)
	}
	src := b.sourceIP(first, i)
	d := net.Dialer{Timeout: wstest.DefaultTimeout, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	nc, err := d.Dial("tcp", b.addr)
	if err != nil {
		return fmt.Errorf("dial from %v: %w", src, err)
	}
	key := wstest.NewKey()
	c, err := wstest.Upgrade(nc, wstest.Request(b.addr, path, key, extra...), key)
	if err != nil {
		nc.Close()
		return fmt.Errorf("%s from %v: %w", path, src, err)
	}
	by.c = c
	return nil
}

func (b *bystanders) fail(by *bystander, format string, args ...any) {
	if by != nil {
		by.dead.Store(true)
	}
	if b.ending.Load() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) < 20 {
		b.errs = append(b.errs, fmt.Sprintf(format, args...))
	}
}

// echoLoop sends one message per EchoEvery (after a random start, so the
// crowd does not tick in step) and reads its echo before the next.
func (b *bystanders) echoLoop(by *bystander) {
	defer b.writers.Done()
	if !b.sleep(rand.N(b.opts.EchoEvery)) {
		return
	}
	tick := time.NewTicker(b.opts.EchoEvery)
	defer tick.Stop()
	for {
		if err := b.echoOnce(by); err != nil {
			b.fail(by, "echo bystander %d (%s): %v", by.idx, by.user, err)
			return
		}
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
	}
}

// echoOnce sends the next numbered message (text or binary, of varying
// length) and checks the next data message is exactly it; pings on the
// way are answered.
func (b *bystanders) echoOnce(by *bystander) error {
	seq := by.echoed.Load()
	op, msg := echoPayload(by.idx, seq)
	if err := by.c.WriteMessage(op, msg); err != nil {
		return fmt.Errorf("write #%d: %w", seq, err)
	}
	for {
		f, err := by.c.ReadFrame()
		if err != nil {
			return fmt.Errorf("waiting for echo #%d: %w", seq, err)
		}
		switch f.Op {
		case frame.OpPing:
			if err := by.c.WriteFrame(true, 0, frame.OpPong, f.Payload, true); err != nil {
				return err
			}
			continue
		case frame.OpPong:
			continue
		}
		if f.Op != op || !f.Fin || !bytes.Equal(f.Payload, msg) {
			return fmt.Errorf("echo #%d: got %v, want %v %q", seq, f, op, msg)
		}
		by.echoed.Add(1)
		return nil
	}
}

// echoPayload is echo message seq of client idx: text with the numbers,
// every third one binary, padded to a length that varies.
func echoPayload(idx int, seq int64) (frame.Opcode, []byte) {
	msg := fmt.Appendf(nil, "e:%d:%d:", idx, seq)
	for n := int(seq*37) % 200; n > 0; n-- {
		msg = append(msg, byte('a'+n%26))
	}
	if seq%3 == 2 {
		return frame.OpBinary, append(msg, 0, 0xff, 0x80)
	}
	return frame.OpText, msg
}

// publish sends one numbered message per PublishEvery to the room.
func (b *bystanders) publish(by *bystander) {
	defer b.writers.Done()
	if !b.sleep(rand.N(b.opts.PublishEvery)) {
		return
	}
	tick := time.NewTicker(b.opts.PublishEvery)
	defer tick.Stop()
	for {
		seq := by.sent.Load()
		msg := fmt.Appendf(nil, "r:%d:%d", by.idx, seq)
		if err := by.c.WriteMessage(frame.OpText, msg); err != nil {
			b.fail(by, "room publisher %d (%s): write #%d: %v", by.idx, by.user, seq, err)
			return
		}
		by.sent.Add(1)
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
	}
}

// readRoom reads a member's stream: room messages "r:P:SEQ" must come
// from another publisher with the next sequence number expected from it;
// pongs are counted; anything else (an error message, a close frame, a
// read error) fails the crowd.
func (b *bystanders) readRoom(by *bystander) {
	defer b.readers.Done()
	for {
		f, err := by.c.ReadFrame()
		if err != nil {
			if !b.ending.Load() {
				b.fail(by, "room member %d (%s): read: %v", by.idx, by.user, err)
			}
			return
		}
		switch f.Op {
		case frame.OpPong:
			if string(f.Payload) == "bystander alive?" {
				by.pongs.Add(1)
			}
			continue
		case frame.OpPing:
			continue // the server's keepalive; silence is fine in a short test
		}
		if err := b.onRoomMessage(by, f); err != nil {
			b.fail(by, "room member %d (%s): %v", by.idx, by.user, err)
			return
		}
	}
}

func (b *bystanders) onRoomMessage(by *bystander, f wstest.Frame) error {
	if f.Op != frame.OpText || !f.Fin {
		return fmt.Errorf("unexpected frame %v", f)
	}
	rest, ok := strings.CutPrefix(string(f.Payload), "r:")
	ps, ss, ok2 := strings.Cut(rest, ":")
	p, err1 := strconv.Atoi(ps)
	seq, err2 := strconv.ParseInt(ss, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || p < 0 || p >= len(by.next) {
		return fmt.Errorf("unexpected message %q", f.Payload)
	}
	if p == by.idx {
		return fmt.Errorf("got its own message %q", f.Payload)
	}
	if want := by.next[p].Load(); seq != want {
		return fmt.Errorf("from publisher %d got #%d, want #%d (lost, duplicated or reordered)", p, seq, want)
	}
	by.next[p].Add(1)
	return nil
}

// sleep waits d or until the crowd stops; false means it stopped.
func (b *bystanders) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.stop:
		return false
	case <-t.C:
		return true
	}
}

// check stops the traffic and reports through tb every way the crowd was
// harmed (see checkErrs).
func (b *bystanders) check() {
	b.tb.Helper()
	for _, e := range b.checkErrs() {
		b.tb.Error("bystanders: " + e)
	}
}

// checkErrs stops the traffic, waits (at most 20 s) for every room member
// to have every message published to the room, proves every connection
// alive (a last echo, or a ping answered), and returns what went wrong.
func (b *bystanders) checkErrs() []string {
	// A test that ends quickly must still have seen some traffic: wait
	// (bounded) until every publisher has published and every echo
	// bystander has been echoed once.
	for until := time.Now().Add(20 * time.Second); !b.warm() && time.Now().Before(until); {
		time.Sleep(10 * time.Millisecond)
	}
	b.stopped.Do(func() { close(b.stop) })
	b.writers.Wait()
	deadline := time.Now().Add(20 * time.Second)
	var echoes, delivered, published int64
	for _, p := range b.room[:b.opts.Publishers] {
		published += p.sent.Load()
	}
	for _, by := range b.room {
		for !by.dead.Load() && !b.hasAll(by) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		for p, pub := range b.room[:b.opts.Publishers] {
			if p == by.idx {
				continue
			}
			got, want := by.next[p].Load(), pub.sent.Load()
			delivered += got
			if got != want && !by.dead.Load() {
				b.fail(by, "room member %d (%s) got %d of the %d messages of publisher %d", by.idx, by.user, got, want, p)
			}
		}
	}
	// Liveness: writers are stopped, so this goroutine may write.
	for _, by := range b.echo {
		if by.dead.Load() {
			continue
		}
		if err := b.echoOnce(by); err != nil {
			b.fail(by, "echo bystander %d (%s): last echo: %v", by.idx, by.user, err)
		}
		echoes += by.echoed.Load()
	}
	for _, by := range b.room {
		if !by.dead.Load() {
			if err := by.c.WriteFrame(true, 0, frame.OpPing, []byte("bystander alive?"), true); err != nil {
				b.fail(by, "room member %d (%s): ping: %v", by.idx, by.user, err)
			}
		}
	}
	for _, by := range b.room {
		for !by.dead.Load() && by.pongs.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if by.pongs.Load() == 0 && !by.dead.Load() {
			b.fail(by, "room member %d (%s) did not answer a ping", by.idx, by.user)
		}
	}
	dead := 0
	for _, by := range append(append([]*bystander(nil), b.echo...), b.room...) {
		if by.dead.Load() {
			dead++
		}
	}
	if dead > 0 {
		b.fail(nil, "%d of %d bystanders were disconnected or harmed", dead, b.opts.N)
	}
	if published == 0 || echoes < int64(len(b.echo)) {
		b.fail(nil, "too little traffic to judge: %d published, %d echoes", published, echoes)
	}
	b.tb.Logf("bystanders: %d clients, %d echoes, %d room messages published, %d delivered", b.opts.N, echoes, published, delivered)
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// warm reports whether every live publisher has published and every live
// echo bystander has been echoed at least once.
func (b *bystanders) warm() bool {
	for _, p := range b.room[:b.opts.Publishers] {
		if p.sent.Load() == 0 && !p.dead.Load() {
			return false
		}
	}
	for _, by := range b.echo {
		if by.echoed.Load() == 0 && !by.dead.Load() {
			return false
		}
	}
	return true
}

// hasAll reports whether by has every message published so far by the
// other publishers.
func (b *bystanders) hasAll(by *bystander) bool {
	for p, pub := range b.room[:b.opts.Publishers] {
		if p != by.idx && by.next[p].Load() != pub.sent.Load() {
			return false
		}
	}
	return true
}

// close ends the crowd: writers stop and every connection is closed.
func (b *bystanders) close() {
	b.closed.Do(func() {
		b.stopped.Do(func() { close(b.stop) })
		b.writers.Wait()
		b.ending.Store(true)
		for _, by := range append(append([]*bystander(nil), b.echo...), b.room...) {
			if by.c != nil {
				by.c.Close()
			}
		}
		b.readers.Wait()
	})
}

// TestBystanderHarness shows the crowd's check passes when nothing harms
// it and fails when something does: a room message delivered twice and a
// client that lost its connection.
func TestBystanderHarness(t *testing.T) {
	t.Parallel()
	t.Run("unharmed", func(t *testing.T) {
		t.Parallel()
		_, addr := startServer(t, nil)
		b := startBystanders(t, addr, bystanderOpts{N: 60})
		time.Sleep(time.Second)
		b.check()
	})
	t.Run("harmed", func(t *testing.T) {
		t.Parallel()
		_, addr, admin := opsServer(t, nil)
		b := startBystanders(t, addr, bystanderOpts{N: 60})
		time.Sleep(time.Second)
		opsPublish(t, admin, "bystanders", "r:0:0") // a duplicate of publisher 0's first
		b.echo[3].c.Close()                         // a client that lost its connection
		time.Sleep(500 * time.Millisecond)
		errs := b.checkErrs()
		all := strings.Join(errs, "\n")
		for _, want := range []string{"from publisher 0 got #0", "echo bystander 3", "bystanders were disconnected or harmed"} {
			if !strings.Contains(all, want) {
				t.Errorf("check did not report %q; it reported:\n%s", want, all)
			}
		}
	})
}
