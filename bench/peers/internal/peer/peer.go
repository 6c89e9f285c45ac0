// Package peer holds what every peer server in bench/peers shares: its
// flags, the room-name rule, the start-up line the harness waits for, and
// a room registry keyed by name.
package peer

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// Flags are the command-line settings common to all peers.
type Flags struct {
	// Addr is the listen address (host:port); port 0 picks a free one.
	Addr string
	// Deflate offers permessage-deflate where the library supports it.
	Deflate bool
}

// ParseFlags parses os.Args into Flags for the peer called name; each
// extra function may define flags of the peer's own on the set first.
func ParseFlags(name string, extra ...func(*flag.FlagSet)) Flags {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.StringVar(&f.Addr, "addr", "127.0.0.1:8080", "listen address (host:port)")
	fs.BoolVar(&f.Deflate, "deflate", false, "offer permessage-deflate")
	for _, def := range extra {
		def(fs)
	}
	_ = fs.Parse(os.Args[1:])
	return f
}

// RoomPrefix is the path prefix of the room endpoint: /room/NAME.
const RoomPrefix = "/room/"

// RoomName returns NAME for a path /room/NAME, or false.
func RoomName(path string) (string, bool) {
	name, ok := strings.CutPrefix(path, RoomPrefix)
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// Announce prints the line the harness waits for: "NAME listening ADDR".
func Announce(name, addr string) {
	fmt.Printf("%s listening %s\n", name, addr)
}

// WaitSignal blocks until SIGINT or SIGTERM.
func WaitSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	<-ch
}

// Rooms is a registry of rooms, each a set of members of type M. It is safe
// for concurrent use.
type Rooms[M comparable] struct {
	mu    sync.RWMutex
	rooms map[string]map[M]struct{}
}

// NewRooms returns an empty registry.
func NewRooms[M comparable]() *Rooms[M] {
	return &Rooms[M]{rooms: make(map[string]map[M]struct{})}
}

// Join adds m to room name.
func (r *Rooms[M]) Join(name string, m M) {
	r.mu.Lock()
	set := r.rooms[name]
	if set == nil {
		set = make(map[M]struct{})
		r.rooms[name] = set
	}
	set[m] = struct{}{}
	r.mu.Unlock()
}

// Leave removes m from room name, dropping the room when it empties.
func (r *Rooms[M]) Leave(name string, m M) {
	r.mu.Lock()
	if set := r.rooms[name]; set != nil {
		delete(set, m)
		if len(set) == 0 {
			delete(r.rooms, name)
		}
	}
	r.mu.Unlock()
}

// AppendOthers appends every member of room name except from to dst, under
// the read lock, and returns it: the caller sends outside the lock.
func (r *Rooms[M]) AppendOthers(dst []M, name string, from M) []M {
	r.mu.RLock()
	for m := range r.rooms[name] {
		if m != from {
			dst = append(dst, m)
		}
	}
	r.mu.RUnlock()
	return dst
}
