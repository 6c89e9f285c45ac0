// Command gorilla is the gorilla/websocket peer, written the conventional
// way: net/http, one goroutine per connection reading, and for rooms a hub
// with one writer goroutine and a buffered send channel per member.
// /echo echoes every message with its opcode; /room/NAME broadcasts every
// message to the room's other members.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/gorilla/websocket"
	"github.com/wsgate/wsgate/bench/peers/internal/peer"
)

// sendQueue is how many messages a room member may have waiting; a member
// whose queue is full is disconnected (the slow-consumer rule of the
// gorilla chat example).
const sendQueue = 256

// outMsg is one message for a member's writer goroutine.
type outMsg struct {
	op   int
	data []byte
}

// member is a connection in a room.
type member struct {
	c    *websocket.Conn
	send chan outMsg
	done chan struct{} // closed when the reader leaves
}

type server struct {
	up    websocket.Upgrader
	rooms *peer.Rooms[*member]
}

func main() {
	f := peer.ParseFlags("gorilla")
	s := &server{
		up: websocket.Upgrader{
			ReadBufferSize:    4096,
			WriteBufferSize:   4096,
			EnableCompression: f.Deflate,
			CheckOrigin:       func(*http.Request) bool { return true },
		},
		rooms: peer.NewRooms[*member](),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", s.serveEcho)
	mux.HandleFunc(peer.RoomPrefix, s.serveRoom)
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorilla:", err)
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, mux) }()
	peer.Announce("gorilla", ln.Addr().String())
	peer.WaitSignal()
}

func (s *server) serveEcho(w http.ResponseWriter, r *http.Request) {
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		op, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(op, data); err != nil {
			return
		}
	}
}

func (s *server) serveRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := peer.RoomName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	m := &member{c: c, send: make(chan outMsg, sendQueue), done: make(chan struct{})}
	s.rooms.Join(name, m)
	go m.writeLoop()
	defer func() {
		s.rooms.Leave(name, m)
		close(m.done)
	}()
	var others []*member
	for {
		op, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		others = s.rooms.AppendOthers(others[:0], name, m)
		for _, o := range others {
			o.offer(outMsg{op: op, data: data})
		}
		clear(others)
	}
}

// offer queues msg for m, or closes m's socket when its queue is full.
// The receiver's reader then sees the error and leaves the room.
func (m *member) offer(msg outMsg) {
	select {
	case m.send <- msg:
	default:
		_ = m.c.Close()
	}
}

// writeLoop writes m's queued messages until its reader leaves.
func (m *member) writeLoop() {
	defer m.c.Close()
	for {
		select {
		case msg := <-m.send:
			if err := m.c.WriteMessage(msg.op, msg.data); err != nil {
				return
			}
		case <-m.done:
			return
		}
	}
}
