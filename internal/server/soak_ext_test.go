//go:build soak

package server_test

// The overload suite at length (make soak): each short overload test run
// again and again, and stalled handshakes kept up for minutes while an
// honest client measures its handshakes. WSGATE_SOAK_ROUNDS (default 5)
// sets the repetitions, WSGATE_SOAK_DURATION (default 1m) the sustained
// runs.

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

func soakRounds() int {
	if n, err := strconv.Atoi(os.Getenv("WSGATE_SOAK_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 5
}

func soakDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("WSGATE_SOAK_DURATION")); err == nil && d > 0 {
		return d
	}
	return time.Minute
}

// TestSoakRepeat runs each short overload test soakRounds times.
func TestSoakRepeat(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"room_flood", TestRoomFloodSparesTheLoop},
		{"inbound_floods", TestInboundFloods},
		{"stalled_handshakes", TestStalledHandshakesSpareHonestOnes},
	} {
		for i := range soakRounds() {
			t.Run(fmt.Sprintf("%s/%d", tc.name, i+1), tc.fn)
		}
	}
}

// TestSoakStalledWaves keeps 1,000 clients stalling handshakes against a
// TLS listener (half-sent ClientHellos and silent connections from four
// addresses, each one the server closes replaced a second later) for
// soakDuration, while an honest client runs handshakes one after another.
// Every honest handshake must succeed; their latency is printed for each
// 10 s window.
func TestSoakStalledWaves(t *testing.T) {
	certFile, keyFile := tlsFiles(t)
	roots := wstest.WriteTestCert(t, certFile, keyFile, 12)
	srv, addr := startServer(t, func(c *config.Config) {
		c.NoLimits = false
		c.ConnRate, c.MaxConnsPerIP = 0, 0
		c.TLSCert, c.TLSKey = certFile, keyFile
		c.TLSHandshakes = 128
	})
	end := time.Now().Add(soakDuration())
	var opened atomic.Int64
	var wg sync.WaitGroup
	for w := range 1000 {
		wg.Go(func() {
			first := partialHello
			if w%4 == 3 {
				first = nil
			}
			d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(stallSources[w%len(stallSources)])}}
			for time.Now().Before(end) {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					time.Sleep(time.Second)
					continue
				}
				opened.Add(1)
				if len(first) > 0 {
					_, _ = c.Write(first)
				}
				_ = c.SetReadDeadline(end)
				var b [1]byte
				_, _ = c.Read(b[:]) // until the server closes it (shed, timeout) or the soak ends
				c.Close()
				time.Sleep(time.Second) // a stalling client, not a connect flood
			}
		})
	}
	var all []time.Duration
	for time.Now().Before(end) {
		window := time.Now().Add(10 * time.Second)
		var lat []time.Duration
		for time.Now().Before(window) && time.Now().Before(end) {
			lat = append(lat, honestHandshakes(t, addr, roots, 1)...)
		}
		if len(lat) > 0 {
			t.Logf("%d honest handshakes: p50 %v p99 %v max %v; %d stalled connections opened so far",
				len(lat), percentile(lat, 0.5), percentile(lat, 0.99), slices.Max(lat), opened.Load())
		}
		all = append(all, lat...)
	}
	wg.Wait()
	p := opsScrape(t, "http://"+srv.AdminAddr().String())
	shed := func(reason string) float64 {
		return p.sum("wsgate_handshakes_shed_total", map[string]string{"reason": reason})
	}
	t.Logf("over %v: %d honest handshakes, p50 %v p99 %v max %v; %d stalled opened; shed %v per address, %v oldest, %v stalled TLS",
		soakDuration(), len(all), percentile(all, 0.5), percentile(all, 0.99), slices.Max(all), opened.Load(),
		shed("per_ip"), shed("oldest"), shed("tls_stalled"))
	if p99 := percentile(all, 0.99); p99 > time.Second {
		t.Errorf("honest handshake p99 %v beside ~1000 stalled ones, want well under 1s", p99)
	}
}
