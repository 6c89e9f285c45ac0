package fanout

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// forwardRecorder keeps what the pool forwarded.
type forwardRecorder struct {
	mu    sync.Mutex
	got   []string
	local *recorder // a local member of room r
	rooms int       // forwards of room r
	early int       // forwards of room r before the local member had the message
}

func (f *forwardRecorder) Forward(j *Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j.Room == "r" {
		f.local.mu.Lock()
		if len(f.local.bufs) <= f.rooms {
			f.early++
		}
		f.local.mu.Unlock()
		f.rooms++
	}
	target := "room " + j.Room
	if j.Room == "" {
		target = "user " + j.User
	}
	f.got = append(f.got, fmt.Sprintf("%s %s json=%v from=%q", target, j.Payload(), j.JSON, j.FromUser))
}

// TestForwarder: every local message job is forwarded once, after its
// local members have it and in its room's order; remote jobs and control
// jobs are not.
func TestForwarder(t *testing.T) {
	p := newPool(t, Config{Workers: 3})
	s := &recorder{}
	fw := &forwardRecorder{local: s}
	p.SetForwarder(fw)
	defer s.release()
	p.Hub().Join("r", s)
	p.Start()
	for i := range 5 {
		j := textJob("r", fmt.Sprint(i))
		j.JSON, j.FromUser = true, "ann"
		p.TrySubmit(j)
	}
	remote := textJob("r", "from another node")
	remote.Remote = true
	p.TrySubmit(remote)
	u := textJob("", "to bob")
	u.Room, u.User = "", "bob"
	p.TrySubmit(u)
	p.TrySubmit(Job{Room: "r", Ctl: ctlFunc(func(*Delivery) bool { return false })})
	if err := p.Fence(context.Background()); err != nil {
		t.Fatal(err)
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var room, user []string
	for _, g := range fw.got {
		if g[:4] == "room" {
			room = append(room, g)
		} else {
			user = append(user, g)
		}
	}
	want := `[room r 0 json=true from="ann" room r 1 json=true from="ann" room r 2 json=true from="ann" room r 3 json=true from="ann" room r 4 json=true from="ann"]`
	if fmt.Sprint(room) != want || fmt.Sprint(user) != `[user bob to bob json=false from=""]` {
		t.Fatalf("forwarded %q", fw.got)
	}
	if fw.early != 0 {
		t.Fatalf("%d messages forwarded before the local member had them", fw.early)
	}
	if n := len(s.frames()); n != 6 {
		t.Fatalf("the local member got %d messages, want 6 (the remote one too)", n)
	}
}

// ctlFunc is a Control made of a function.
type ctlFunc func(*Delivery) bool

func (f ctlFunc) Apply(d *Delivery) bool { return f(d) }
