// Command gobwas is the gobwas/ws peer: a plain net.Listener, ws.Upgrader
// on the raw connection (no net/http), one goroutine per connection reading
// with wsutil. /echo echoes every message with its opcode; /room/NAME
// writes every message to the room's other members directly, each write
// under that member's lock. It has no -deflate (wsflate needs hand-wiring
// of every reader and writer; left out).
package main

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsgate/wsgate/bench/peers/internal/peer"
)

// writeTimeout bounds a write to one member, so one stalled reader cannot
// hold a broadcaster forever.
const writeTimeout = 10 * time.Second

// client is one upgraded connection.
type client struct {
	mu sync.Mutex // serialises writes
	nc net.Conn
}

func (c *client) write(op ws.OpCode, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return wsutil.WriteServerMessage(c.nc, op, data)
}

type server struct {
	rooms *peer.Rooms[*client]
}

func main() {
	f := peer.ParseFlags("gobwas")
	if f.Deflate {
		fmt.Fprintln(os.Stderr, "gobwas: -deflate is not supported by this peer")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobwas:", err)
		os.Exit(1)
	}
	s := &server{rooms: peer.NewRooms[*client]()}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(nc)
		}
	}()
	peer.Announce("gobwas", ln.Addr().String())
	peer.WaitSignal()
}

func (s *server) serve(nc net.Conn) {
	defer nc.Close()
	var path string
	up := ws.Upgrader{
		OnRequest: func(uri []byte) error {
			path = string(uri)
			if path != "/echo" {
				if _, ok := peer.RoomName(path); !ok {
					return ws.RejectConnectionError(ws.RejectionStatus(404))
				}
			}
			return nil
		},
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := up.Upgrade(nc); err != nil {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	c := &client{nc: nc}
	if path == "/echo" {
		s.echo(c)
		return
	}
	name, _ := peer.RoomName(path)
	s.rooms.Join(name, c)
	defer s.rooms.Leave(name, c)
	s.room(c, name)
}

func (s *server) echo(c *client) {
	for {
		data, op, err := wsutil.ReadClientData(c.nc)
		if err != nil {
			return
		}
		if err := c.write(op, data); err != nil {
			return
		}
	}
}

func (s *server) room(c *client, name string) {
	var others []*client
	for {
		data, op, err := wsutil.ReadClientData(c.nc)
		if err != nil {
			return
		}
		others = s.rooms.AppendOthers(others[:0], name, c)
		for _, o := range others {
			if err := o.write(op, data); err != nil {
				_ = o.nc.Close()
			}
		}
		clear(others)
	}
}
