package sockjsconf

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// chromium is Debian's browser, installed by scripts/setup-test-deps.sh.
const chromium = "/usr/bin/chromium"

// servePage serves the browser test's page and sockjs-client's browser
// build on a second origin, and returns its base URL.
func servePage(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "browser/page.html")
	})
	mux.HandleFunc("/sockjs.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "../node/node_modules/sockjs-client/dist/sockjs.min.js")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// TestBrowserTransports runs sockjs-client in headless Chromium against
// wsgate with each browser transport forced, from a page on another
// origin that the gateway's -origins admits (so every request is CORS
// with credentials, outside dev mode). The iframe transports load the
// gateway's iframe page, which loads sockjs-client from the page's
// origin (-sockjs-url).
func TestBrowserTransports(t *testing.T) {
	node := nodeClient(t)
	if _, err := os.Stat(chromium); err != nil {
		requireDep(t, chromium)
	}
	if _, err := os.Stat("../node/node_modules/playwright-core/package.json"); err != nil {
		requireDep(t, "npm playwright-core in test/node")
	}
	page := servePage(t)
	cfg := wsgateConfig()
	cfg.DevMode, cfg.Anonymous = false, true
	cfg.SockJS.Enabled, cfg.SockJS.TestEndpoints = true, false
	cfg.Origins = []string{page}
	cfg.SockJS.ClientURL = page + "/sockjs.min.js"
	base, _ := startWsgate(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "browser_sockjs.js", page+"/", base+"/echo",
		"xhr-streaming", "xhr-polling", "eventsource", "jsonp-polling",
		"iframe-eventsource", "iframe-htmlfile", "iframe-xhr-polling").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatal(err)
	}
}
