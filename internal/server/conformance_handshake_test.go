package server_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// reqLines builds a raw request from its lines (without CRLFs).
func reqLines(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

// validLines returns the lines of a valid upgrade request for /echo with
// header lines replaced or added: a replacement "Name: value" replaces the
// line with the same name, "Name:" with nothing after drops it.
func validLines(host string, changes ...string) []string {
	lines := []string{
		"GET /echo HTTP/1.1",
		"Host: " + host,
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + wstest.NewKey(),
		"Sec-WebSocket-Version: 13",
	}
	for _, ch := range changes {
		name, value, _ := strings.Cut(ch, ":")
		found := false
		for i := 1; i < len(lines); i++ {
			if n, _, _ := strings.Cut(lines[i], ":"); strings.EqualFold(n, name) {
				found = true
				if strings.TrimSpace(value) == "" {
					lines = append(lines[:i], lines[i+1:]...)
				} else {
					lines[i] = ch
				}
				break
			}
		}
		if !found {
			lines = append(lines, ch)
		}
	}
	return lines
}

// Handshake: rejections are real HTTP answers with the right status.
func TestConformanceHandshake(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil)
	cases := []struct {
		name   string
		req    []byte
		status int
		header [2]string // a header the response must carry
	}{
		{"bad_method", reqLines(append([]string{"POST /echo HTTP/1.1"}, validLines(addr)[1:]...)...), http.StatusMethodNotAllowed, [2]string{}},
		{"http_1_0", reqLines(append([]string{"GET /echo HTTP/1.0"}, validLines(addr)[1:]...)...), http.StatusBadRequest, [2]string{}},
		{"missing_upgrade", reqLines(validLines(addr, "Upgrade:")...), http.StatusBadRequest, [2]string{}},
		{"upgrade_not_websocket", reqLines(validLines(addr, "Upgrade: h2c")...), http.StatusBadRequest, [2]string{}},
		{"missing_connection", reqLines(validLines(addr, "Connection:")...), http.StatusBadRequest, [2]string{}},
		{"connection_without_upgrade", reqLines(validLines(addr, "Connection: keep-alive")...), http.StatusBadRequest, [2]string{}},
		{"missing_key", reqLines(validLines(addr, "Sec-WebSocket-Key:")...), http.StatusBadRequest, [2]string{}},
		{"key_not_base64", reqLines(validLines(addr, "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!")...), http.StatusBadRequest, [2]string{}},
		{"key_15_bytes", reqLines(validLines(addr, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA")...), http.StatusBadRequest, [2]string{}},
		{"key_17_bytes", reqLines(validLines(addr, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=")...), http.StatusBadRequest, [2]string{}},
		{"version_8", reqLines(validLines(addr, "Sec-WebSocket-Version: 8")...), http.StatusUpgradeRequired, [2]string{"Sec-WebSocket-Version", "13"}},
		{"missing_version", reqLines(validLines(addr, "Sec-WebSocket-Version:")...), http.StatusBadRequest, [2]string{}},
		{"unknown_path", reqLines(append([]string{"GET /nope HTTP/1.1"}, validLines(addr)[1:]...)...), http.StatusNotFound, [2]string{}},
		{"headers_over_max_header", reqLines(validLines(addr, "X-Padding: "+strings.Repeat("p", 9<<10))...), http.StatusRequestHeaderFieldsTooLarge, [2]string{}},
		{"garbage", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), http.StatusBadRequest, [2]string{}},
	}
	for _, tc := range cases {
		t.Run("handshake/"+tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := rawRoundTrip(t, addr, tc.req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.status)
			}
			if tc.header[0] != "" && resp.Header.Get(tc.header[0]) != tc.header[1] {
				t.Errorf("%s: %q, want %q", tc.header[0], resp.Header.Get(tc.header[0]), tc.header[1])
			}
			if body == "" {
				t.Errorf("rejection without a reason")
			}
		})
	}
	accepted := []struct{ name, header string }{
		{"connection_token_list", "Connection: keep-alive, UPGRADE"},
		{"connection_lower_case", "Connection: upgrade"},
		{"upgrade_mixed_case", "Upgrade: WebSocket"},
		{"query_string", ""},
	}
	for _, tc := range accepted {
		t.Run("handshake/accepts_"+tc.name, func(t *testing.T) {
			t.Parallel()
			path := "/echo"
			var extra []string
			if tc.header != "" {
				extra = append(extra, tc.header)
			} else {
				path = "/echo?token=abc"
			}
			nc := wstest.DialTCP(t, addr)
			key := wstest.NewKey()
			lines := validLines(addr, append([]string{"Sec-WebSocket-Key: " + key}, extra...)...)
			lines[0] = "GET " + path + " HTTP/1.1"
			c, err := wstest.Upgrade(nc, reqLines(lines...), key)
			if err != nil {
				t.Fatal(err)
			}
			c.Bind(t).Echo(frame.OpText, []byte("accepted"))
		})
	}
	t.Run("handshake/early_frames_in_request_write", func(t *testing.T) {
		t.Parallel()
		key := wstest.NewKey()
		req := wstest.Request(addr, "/echo", key)
		req = wstest.AppendFrame(req, true, 0, frame.OpText, []byte("early 1"), true)
		req = wstest.AppendFrame(req, true, 0, frame.OpPing, []byte("early ping"), true)
		req = wstest.AppendFrame(req, true, 0, frame.OpBinary, []byte("early 2"), true)
		c, err := wstest.Upgrade(wstest.DialTCP(t, addr), req, key)
		if err != nil {
			t.Fatal(err)
		}
		c.Bind(t)
		c.ExpectMessage(frame.OpText, []byte("early 1"))
		c.ExpectFrame(frame.OpPong, []byte("early ping"))
		c.ExpectMessage(frame.OpBinary, []byte("early 2"))
	})
	t.Run("handshake/one_byte_at_a_time_blocks_nobody", func(t *testing.T) {
		t.Parallel()
		other := wstest.Dial(t, addr, "/echo")
		key := wstest.NewKey()
		req := wstest.Request(addr, "/echo", key, "Origin: http://"+addr) // same-origin page
		req = wstest.AppendFrame(req, true, 0, frame.OpText, []byte("slow but sure"), true)
		slow := wstest.NewConn(wstest.DialTCP(t, addr)).Bind(t)
		for i := range req {
			slow.SendRaw(req[i : i+1])
			if i%8 == 0 {
				time.Sleep(time.Millisecond)
				other.Echo(frame.OpText, []byte("meanwhile"))
			}
		}
		if err := slow.ReadUpgradeResponse(key); err != nil {
			t.Fatal(err)
		}
		slow.ExpectMessage(frame.OpText, []byte("slow but sure"))
	})
	t.Run("handshake/rejected_connection_is_closed", func(t *testing.T) {
		t.Parallel()
		c := wstest.NewConn(wstest.DialTCP(t, addr)).Bind(t)
		c.SendRaw(reqLines(validLines(addr, "Sec-WebSocket-Version: 8")...))
		readResponse(t, c)
		c.ExpectEOF()
	})
}

// TestConformanceHandshakeTimeout: a client that never completes its
// request is disconnected after HandshakeTimeout.
func TestConformanceHandshakeTimeout(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, func(c *config.Config) {
		c.HandshakeTimeout = time.Second
		c.Tick = 50 * time.Millisecond
	})
	// The group returns when its parallel subtests have finished.
	t.Run("handshake/timeout", func(t *testing.T) {
		for _, name := range []string{"silent", "partial_request"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c := wstest.NewConn(wstest.DialTCP(t, addr)).Bind(t)
				if name == "partial_request" {
					c.SendRaw([]byte("GET /echo HTTP/1.1\r\nHost: x\r\n"))
				}
				start := time.Now()
				// 1s timeout, generous deadline: only that it closes at
				// all is asserted, never when.
				c.Timeout = 5 * time.Second
				c.ExpectEOF()
				t.Logf("closed after %v", time.Since(start).Round(time.Millisecond))
			})
		}
	})
	t.Run("handshake/timeout/open_count_returns_to_zero", func(t *testing.T) {
		waitOpen(t, srv, 0, 5*time.Second)
	})
}

// TestConformanceOrigin checks the Origin allow-list.
func TestConformanceOrigin(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, func(c *config.Config) {
		c.Origins = []string{"https://*.example.com", "https://exact.test"}
	})
	_, addrNull := startServer(t, func(c *config.Config) {
		c.Origins = []string{"https://exact.test", "null"}
	})
	cases := []struct {
		name, addr, origin string
		ok                 bool
	}{
		{"no_origin_header", addr, "", true},
		{"exact", addr, "https://exact.test", true},
		{"exact_other_case", addr, "HTTPS://EXACT.TEST", true},
		{"pattern", addr, "https://app.example.com", true},
		{"pattern_deep", addr, "https://a.b.example.com", true},
		{"pattern_needs_a_label", addr, "https://example.com", false},
		{"pattern_wrong_scheme", addr, "http://app.example.com", false},
		{"pattern_suffix_trick", addr, "https://evilexample.com", false},
		{"exact_with_port", addr, "https://exact.test:8443", false},
		{"non_match", addr, "https://evil.test", false},
		{"null_not_listed", addr, "null", false},
		{"null_listed", addrNull, "null", true},
		{"exact_on_null_server", addrNull, "https://exact.test", true},
		{"pattern_not_on_null_server", addrNull, "https://app.example.com", false},
	}
	for _, tc := range cases {
		t.Run("handshake/origin/"+tc.name, func(t *testing.T) {
			t.Parallel()
			var extra []string
			if tc.origin != "" {
				extra = append(extra, "Origin: "+tc.origin)
			}
			c, err := wstest.Connect(tc.addr, "/echo", extra...)
			if tc.ok {
				if err != nil {
					t.Fatalf("origin %q refused: %v", tc.origin, err)
				}
				defer c.Close()
				c.Bind(t).Echo(frame.OpText, []byte("allowed"))
				return
			}
			var se *wstest.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusForbidden {
				if c != nil {
					c.Close()
				}
				t.Fatalf("origin %q: got %v, want 403", tc.origin, err)
			}
		})
	}
}
