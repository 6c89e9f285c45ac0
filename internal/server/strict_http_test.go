package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/wstest"
)

// TestStrictRequestHead sends upgrade requests that are ambiguous or
// malformed at the HTTP level (RFC 9112 sections 2.2, 3.2 and 5; RFC 6455
// sections 4.1 and 11.3.1; RFC 9110 section 5.5): each must get 400, not a
// 101 that an intermediary might have read differently. A valid request
// with the same headers written once is upgraded.
func TestStrictRequestHead(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil)
	key := func() string { return "Sec-WebSocket-Key: " + wstest.NewKey() }
	cases := []struct {
		name string
		req  []byte
	}{
		{"second_key", reqLines(append(validLines(addr), key())...)},
		{"second_key_same_value", func() []byte {
			l := validLines(addr)
			return reqLines(append(l, l[4])...)
		}()},
		{"second_host", reqLines(append(validLines(addr), "Host: "+addr)...)},
		{"second_host_other", reqLines(append(validLines(addr), "host: evil.example")...)},
		{"second_origin", reqLines(append(validLines(addr), "Origin: http://"+addr, "Origin: http://"+addr)...)},
		{"space_before_colon", reqLines(append(validLines(addr), "X-Test : 1")...)},
		{"tab_before_colon", reqLines(append(validLines(addr), "X-Test\t: 1")...)},
		{"space_before_colon_host", reqLines(append(validLines(addr)[:1], append([]string{"Host : " + addr}, validLines(addr)[2:]...)...)...)},
		{"nul_in_value", reqLines(append(validLines(addr), "X-Test: a\x00b")...)},
		{"nul_in_name", reqLines(append(validLines(addr), "X-\x00Test: 1")...)},
		{"bare_cr_in_value", reqLines(append(validLines(addr), "X-Test: a\rb")...)},
		{"bare_cr_in_name", reqLines(append(validLines(addr), "X-\rTest: 1")...)},
		{"bare_lf_in_value", reqLines(append(validLines(addr), "X-Test: a\nX-Other: b")...)},
		{"bare_cr_in_request_line", reqLines(append([]string{"GET /echo\r HTTP/1.1"}, validLines(addr)[1:]...)...)},
		{"obs_fold", reqLines(append(validLines(addr), "X-Test: a", " folded")...)},
		{"no_colon", reqLines(append(validLines(addr), "X-Test")...)},
		{"empty_name", reqLines(append(validLines(addr), ": value")...)},
		{"separator_in_name", reqLines(append(validLines(addr), "X(Test): 1")...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := rawRoundTrip(t, addr, tc.req)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%q: status %d %q, want 400", tc.req, resp.StatusCode, body)
			}
		})
	}
	t.Run("valid_with_origin", func(t *testing.T) {
		t.Parallel()
		resp, body := rawRoundTrip(t, addr, reqLines(append(validLines(addr), "Origin: http://"+addr, "X-Tab:\tv\tw")...))
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Errorf("status %d %q, want 101", resp.StatusCode, strings.TrimSpace(body))
		}
	})
}
