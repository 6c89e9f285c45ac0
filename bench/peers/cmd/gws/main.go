// Command gws is the lxzan/gws peer: net/http upgrade, then one goroutine
// per connection running gws's ReadLoop, with gws's event interface.
// /echo echoes every message with its opcode; /room/NAME broadcasts every
// message to the room's other members with a gws.Broadcaster (the frame is
// built, and compressed, once per message; writes go through each
// member's async write queue). -deflate enables permessage-deflate without
// context takeover.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/lxzan/gws"
	"github.com/wsgate/wsgate/bench/peers/internal/peer"
)

// roomKey is the session key holding a room member's room name.
const roomKey = "room"

// echoHandler answers every message with itself.
type echoHandler struct{ gws.BuiltinEventHandler }

func (echoHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

// roomHandler broadcasts every message to the sender's room.
type roomHandler struct {
	gws.BuiltinEventHandler
	rooms   *peer.Rooms[*gws.Conn]
	scratch sync.Pool // *[]*gws.Conn
}

func (h *roomHandler) OnClose(c *gws.Conn, _ error) {
	if v, ok := c.Session().Load(roomKey); ok {
		h.rooms.Leave(v.(string), c)
	}
}

func (h *roomHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	v, ok := c.Session().Load(roomKey)
	if !ok {
		m.Close()
		return
	}
	// The Broadcaster reads its payload while members' queues drain, after
	// m's buffer has gone back to gws's pool: give it its own copy.
	payload := append([]byte(nil), m.Bytes()...)
	op := m.Opcode
	m.Close()
	bp := h.scratch.Get().(*[]*gws.Conn)
	list := h.rooms.AppendOthers((*bp)[:0], v.(string), c)
	b := gws.NewBroadcaster(op, payload)
	for _, o := range list {
		_ = b.Broadcast(o)
	}
	_ = b.Close()
	clear(list)
	*bp = list[:0]
	h.scratch.Put(bp)
}

func main() {
	f := peer.ParseFlags("gws")
	opt := func() *gws.ServerOption {
		return &gws.ServerOption{
			PermessageDeflate: gws.PermessageDeflate{Enabled: f.Deflate},
			CheckUtf8Enabled:  true,
		}
	}
	rh := &roomHandler{rooms: peer.NewRooms[*gws.Conn]()}
	rh.scratch.New = func() any { b := make([]*gws.Conn, 0, 64); return &b }
	echoUp := gws.NewUpgrader(echoHandler{}, opt())
	roomUp := gws.NewUpgrader(rh, opt())

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := echoUp.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	})
	mux.HandleFunc(peer.RoomPrefix, func(w http.ResponseWriter, r *http.Request) {
		name, ok := peer.RoomName(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		c, err := roomUp.Upgrade(w, r)
		if err != nil {
			return
		}
		c.Session().Store(roomKey, name)
		rh.rooms.Join(name, c)
		go c.ReadLoop()
	})
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gws:", err)
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, mux) }()
	peer.Announce("gws", ln.Addr().String())
	peer.WaitSignal()
}
