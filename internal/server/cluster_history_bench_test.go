package server

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/wstest"
)

// BenchmarkClusterReconnectStorm: 10,000 clients of one room with history
// on one wsgate node of a cluster (history in JetStream, three replicas on
// an embedded NATS cluster in this process); the node drains with 1012
// and 100 messages are published while the clients are away; all of them
// reconnect at once to another node and resume: 100 replayed each, then
// joined. It reports the time from the first dial until every client has
// all of it. warm: the other node has a member in the room already (it
// holds the room's recent messages); cold: it has none, so the first
// resume makes it learn where the room stands and read the missed
// messages from the stream while the others wait.
func BenchmarkClusterReconnectStorm(b *testing.B) {
	logMachine(b)
	const clients, missed = 10000, 100
	servers := startJetStream(b, 3)
	for _, mode := range []string{"warm", "cold"} {
		b.Run(mode, func(b *testing.B) {
			room := "storm." + mode
			var nodes [2]*historyChild
			for i := range nodes {
				nodes[i] = newHistoryChild(b, "-nats", servers[i].ClientURL(), "-node-name", fmt.Sprintf("w%d", i),
					"-history", "storm.*=1000/10m", "-history-replicas", "3",
					"-restart", "-drain-batch", "2000", "-drain-interval", "20ms")
				waitHTTP(b, "http://"+nodes[i].admin+"/readyz")
			}
			from := 0
			sw := dialJoin(b, nodes[from].addr, clients, 16, `{"type":"join","room":"`+room+`"}`)
			sw.startReaders(2)
			sw.waitAll(1, 2*time.Minute)
			var total time.Duration
			for b.Loop() {
				to := 1 - from
				if mode == "warm" {
					w := wstest.Dial(b, nodes[to].addr, "/ws")
					send(w, `{"type":"join","room":"`+room+`"}`)
					readHist(b, w) // joined: the node follows the room
					defer w.Close()
				}
				base := sw.minGot()
				publishAdmin(b, nodes[from].admin, room, missed)
				sw.waitAll(base+missed, 2*time.Minute)
				epoch, last := historyPosition(b, nodes[from].admin, room)
				nodes[from].stop(syscall.SIGTERM)
				sw.close()
				publishAdmin(b, nodes[to].admin, room, missed)
				t := time.Now()
				sw = dialJoin(b, nodes[to].addr, clients, 64, sinceCmd(room, last, epoch))
				sw.startReaders(2)
				sw.waitAll(1+missed, 5*time.Minute)
				total += time.Since(t)
				sw.check()
				nodes[from].start()
				waitHTTP(b, "http://"+nodes[from].admin+"/readyz")
				from = to
			}
			sw.close()
			b.ReportMetric(total.Seconds()/float64(b.N), "s-to-all-live")
			b.ReportMetric(float64(b.N*clients)/total.Seconds(), "resumes/s")
		})
	}
}
