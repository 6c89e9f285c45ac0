package server

import (
	"net/netip"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/upgrade"
	"github.com/wsgate/wsgate/internal/wstest"
)

// BenchmarkUpgrade measures the server's part of one handshake in the
// process, without sockets: parsing a browser-like upgrade request with
// the gobwas/ws hooks (internal/upgrade), the endpoint table, the key,
// origin and admission checks, and the 101 response. allocs/op is what one
// handshake allocates on this path: gobwas/ws's accept key, and the room
// name the connection keeps.
func BenchmarkUpgrade(b *testing.B) {
	for _, tc := range []struct {
		name string
		mod  func(*config.Config)
		path string
	}{
		{"echo", nil, "/echo"},
		{"room-deflate", func(c *config.Config) { c.Deflate = true }, "/room/chat.lobby"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := config.Default()
			cfg.Listen, cfg.Admin = "127.0.0.1:0", ""
			cfg.Anonymous, cfg.NoLimits = true, true
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			s, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			req := wstest.Request("gw.example.com", tc.path, wstest.NewKey(),
				"Origin: https://gw.example.com",
				"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
				"Accept-Encoding: gzip, deflate, br", "Accept-Language: en-GB,en;q=0.9",
				"Cache-Control: no-cache", "Pragma: no-cache",
				"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
			h := s.newUpgrader()().(*upgrade.Upgrader)
			ip := netip.MustParseAddr("127.0.0.1")
			buf := make([]byte, len(req))
			b.ReportAllocs()
			b.SetBytes(int64(len(req)))
			for b.Loop() {
				copy(buf, req)
				u, _, err := h.Upgrade(buf, ip)
				if err != nil || u.Kind == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}
