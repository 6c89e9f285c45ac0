package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
)

// sjPost sends a SockJS request and returns the status and body.
func sjPost(tb testing.TB, url string, hdr map[string]string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(""))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// TestSockJSAdmission: the request that opens a SockJS session is
// admitted as an upgrade is: token (query, header or cookie), room
// permission, per-user maximum; and CORS follows -origins.
func TestSockJSAdmission(t *testing.T) {
	_, addr, _ := secServer(t, func(c *config.Config) {
		c.SockJS.Enabled = true
		c.MaxConnsPerUser = 2
		c.Origins = []string{"https://app.example"}
	})
	base := "http://" + addr + "/room/chat.a/000/"
	tok := hsToken(t, "alice", "chat.*")
	cases := []struct {
		name   string
		url    string
		hdr    map[string]string
		status int
		body   string
	}{
		{"no token", base + "s1/xhr", nil, 401, ""},
		{"bad token", base + "s2/xhr?access_token=nope", nil, 401, ""},
		{"query token", base + "s3/xhr?access_token=" + tok, nil, 200, "o\n"},
		{"header token", base + "s4/xhr", map[string]string{"Authorization": "Bearer " + tok}, 200, "o\n"},
		{"third session of a user", base + "s5/xhr", map[string]string{"Cookie": "x=1; access_token=" + tok}, 429, ""},
		{"room not allowed", "http://" + addr + "/room/news.x/000/s6/xhr?access_token=" + hsToken(t, "bob", "chat.*"), nil, 403, ""},
		{"origin not allowed", base + "s7/xhr?access_token=" + hsToken(t, "carol", "chat.*"), map[string]string{"Origin": "https://evil.example"}, 403, ""},
		{"origin allowed", base + "s8/xhr?access_token=" + hsToken(t, "carol", "chat.*"), map[string]string{"Origin": "https://app.example"}, 200, "o\n"},
	}
	for _, tc := range cases {
		status, body := sjPost(t, tc.url, tc.hdr)
		if status != tc.status || (tc.body != "" && body != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, status, body, tc.status, tc.body)
		}
	}
	// Requests to an existing session need no token again.
	if status, _ := sjPost(t, base+"s3/xhr_send", nil); status != 500 { // empty body: payload expected
		t.Errorf("send to an admitted session: %d, want 500 Payload expected", status)
	}
}
