package loadtest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// The STOMP scenarios against wsgate's /stomp: every subscriber gets every
// message, with subscription ids all 0 or each its own; stomp-connect
// holds its sessions subscribed (the room has them all) and idle; the
// echo comes back whole; drain_end_s marks the end of the wait for
// messages in flight.
func TestWsgateStompScenarios(t *testing.T) {
	g := startWsgate(t)
	for _, own := range []bool{false, true} {
		cfg := bcastCfg(g.URL)
		cfg.Scenario, cfg.OwnSubIDs = "stomp-broadcast", own
		s := run(t, cfg)
		c := s.Counters
		if c.Subscribers != 30 || c.Published == 0 || c.PublishFailed != 0 || c.Delivered != c.Published*30 ||
			c.Lost != 0 || c.Duplicates+c.Reordered+c.Corrupt+c.ErrorFrames != 0 {
			t.Errorf("stomp-broadcast, own ids %v: %+v", own, c)
		}
		if s.DrainEnd < s.MeasureStart+s.Measured || s.DrainEnd > s.Elapsed {
			t.Errorf("stomp-broadcast: drain_end_s %.3f outside [%.3f, %.3f]", s.DrainEnd, s.MeasureStart+s.Measured, s.Elapsed)
		}
	}

	// stomp-connect: while it holds, the admin API sees every session in
	// the room.
	members := make(chan int, 1)
	go func() {
		n := 0
		deadline := time.Now().Add(30 * time.Second)
		for n < 40 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			n = roomMembersOf(g.Admin, "idle")
		}
		members <- n
	}()
	s := run(t, &Config{Scenario: "stomp-connect", Targets: []string{g.URL}, Conns: 40, ConnRate: 2000,
		Room: "idle", Duration: 3 * time.Second})
	if c := s.Counters; c.Connected != 40 || c.Subscribers != 40 || c.ErrorFrames != 0 || c.ServerCloses != 0 {
		t.Errorf("stomp-connect: %+v", c)
	}
	if n := <-members; n != 40 {
		t.Errorf("stomp-connect: room idle had %d members while held, want 40", n)
	}

	s = run(t, &Config{Scenario: "stomp-echo", Targets: []string{g.URL}, Conns: 10, ConnRate: 2000,
		Duration: 500 * time.Millisecond, Drain: 3 * time.Second})
	if c := s.Counters; c.MsgsOut == 0 || c.Delivered != c.MsgsOut || c.Corrupt+c.ErrorFrames != 0 {
		t.Errorf("stomp-echo: %+v", c)
	}
}

// roomMembersOf reads a room's member count from wsgate's admin API (0
// when it cannot).
func roomMembersOf(admin, room string) int {
	resp, err := http.Get(admin + "/api/rooms")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var v struct {
		Rooms []struct {
			Name    string `json:"name"`
			Members int    `json:"members"`
		} `json:"rooms"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return 0
	}
	for _, r := range v.Rooms {
		if r.Name == room {
			return r.Members
		}
	}
	return 0
}
