package server_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/stomp"
)

// TestStompHistory: MESSAGE frames of a room with history carry offset
// and epoch; a SUBSCRIBE with since-offset and since-epoch gets what it
// missed, then the RECEIPT with recovered:true and the room's position,
// then the live stream; since:last gets the latest message; a stale
// epoch is answered recovered:false with nothing replayed; STOMP SENDs
// are kept like every other publish.
func TestStompHistory(t *testing.T) {
	srv, addr := startServer(t, func(c *config.Config) {
		var err error
		if c.History, err = config.ParseHistoryRules("h.*=100"); err != nil {
			t.Fatal(err)
		}
	})
	admin := srv.AdminAddr().String()
	a, _ := connectStomp(t, addr)
	a.send(stomp.CmdSubscribe, nil, "id", "0", "destination", "/topic/h.r", "receipt", "s1")
	r := a.expect(stomp.CmdReceipt)
	if r.hdr["recovered"] != "false" || r.hdr["offset"] != "0" || r.hdr["epoch"] == "" {
		t.Fatalf("first SUBSCRIBE's RECEIPT: %v", r)
	}
	epoch := r.hdr["epoch"]
	for i := 1; i <= 3; i++ {
		adminPost(t, admin, "/api/publish", fmt.Sprintf(`{"room":"h.r","payload":"m%d"}`, i))
	}
	pub, _ := connectStomp(t, addr)
	pub.send(stomp.CmdSend, []byte("m4"), "destination", "/topic/h.r")
	for i := 1; i <= 4; i++ {
		f := a.expect(stomp.CmdMessage)
		if string(f.body) != "m"+strconv.Itoa(i) || f.hdr["offset"] != strconv.Itoa(i) || f.hdr["epoch"] != epoch {
			t.Fatalf("message %d: %v", i, f)
		}
	}

	b, _ := connectStomp(t, addr)
	b.send(stomp.CmdSubscribe, nil, "id", "7", "destination", "/topic/h.r", "since-offset", "2", "since-epoch", epoch, "receipt", "s2")
	for i := 3; i <= 4; i++ {
		if f := b.expect(stomp.CmdMessage); string(f.body) != "m"+strconv.Itoa(i) || f.hdr["subscription"] != "7" || f.hdr["offset"] != strconv.Itoa(i) {
			t.Fatalf("replay %d: %v", i, f)
		}
	}
	if r := b.expect(stomp.CmdReceipt); r.hdr["receipt-id"] != "s2" || r.hdr["recovered"] != "true" || r.hdr["offset"] != "4" || r.hdr["epoch"] != epoch {
		t.Fatalf("resume RECEIPT: %v", r)
	}
	adminPost(t, admin, "/api/publish", `{"room":"h.r","payload":"m5"}`)
	if f := b.expect(stomp.CmdMessage); string(f.body) != "m5" || f.hdr["offset"] != "5" {
		t.Fatalf("live after the resume: %v", f)
	}

	c, _ := connectStomp(t, addr)
	c.send(stomp.CmdSubscribe, nil, "id", "1", "destination", "/topic/h.r", "since", "last", "receipt", "s3")
	if f := c.expect(stomp.CmdMessage); string(f.body) != "m5" {
		t.Fatalf("since:last: %v", f)
	}
	if r := c.expect(stomp.CmdReceipt); r.hdr["recovered"] != "true" {
		t.Fatalf("since:last RECEIPT: %v", r)
	}
	c.send(stomp.CmdSubscribe, nil, "id", "2", "destination", "/topic/h.r", "since-offset", "1", "since-epoch", "other", "receipt", "s4")
	if r := c.expect(stomp.CmdReceipt); r.hdr["recovered"] != "false" || r.hdr["offset"] != "5" || r.hdr["epoch"] != epoch {
		t.Fatalf("stale epoch RECEIPT: %v", r)
	}
	c.send(stomp.CmdSubscribe, nil, "id", "3", "destination", "/topic/h.r", "since-offset", "x", "since-epoch", epoch)
	c.expectError("since", 1002)
}
