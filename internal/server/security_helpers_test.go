package server_test

// Helpers of the security tests: keys of every kind written to
// files the way an operator gives them (-auth-secret-file,
// -auth-key-file kid=path), tokens minted with golang-jwt, a server that
// requires tokens, and handshakes that carry a token in each of the three
// places a client may put it.

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// The issuer and audience every security-test server requires.
const (
	testIssuer   = "https://issuer.wsgate.test"
	testAudience = "wsgate"
)

// secKeys are the signing keys of the security tests, generated once per
// test binary (RSA 2048 generation is slow under the race detector).
type secKeys struct {
	secret  []byte // HMAC, no kid and kid "hs"
	rsa     *rsa.PrivateKey
	rsa2    *rsa.PrivateKey // trusted by nobody: bad signatures
	ec      *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rsaPEM  []byte // the trusted RSA public key as the operator's PEM file
	ecPEM   []byte
	edPEM   []byte
	wrongHS []byte
}

var (
	secKeysOnce sync.Once
	secKeysVal  secKeys
)

func testSecKeys(tb testing.TB) *secKeys {
	tb.Helper()
	secKeysOnce.Do(func() {
		k := &secKeysVal
		g := wstest.Keys()
		k.rsa, k.rsa2, k.ec, k.ed = g.RSA, g.RSA2, g.EC, g.Ed
		k.secret = []byte("security-tests-hmac-secret-0123456789abcdef")
		k.wrongHS = []byte("a different secret of enough length, not trusted")
		k.rsaPEM = publicPEM(&k.rsa.PublicKey)
		k.ecPEM = publicPEM(&k.ec.PublicKey)
		k.edPEM = publicPEM(k.ed.Public())
	})
	return &secKeysVal
}

func publicPEM(pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// writeKeyFiles writes the trusted keys into a fresh directory and sets
// cfg's auth fields the way flags would: the HMAC secret without a kid
// (tokens without a kid use it) and as kid "hs"; RSA, ECDSA P-256 and
// Ed25519 public keys as PEM files with kids "rsa", "ec" and "ed".
func writeKeyFiles(tb testing.TB, cfg *config.Config) {
	tb.Helper()
	k := testSecKeys(tb)
	dir := tb.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			tb.Fatal(err)
		}
		return p
	}
	secret := file("hmac.secret", append(append([]byte(nil), k.secret...), '\n'))
	cfg.AuthSecretFiles = []string{secret, "hs=" + file("hmac-kid.secret", k.secret)}
	cfg.AuthKeyFiles = []string{
		"rsa=" + file("rsa.pem", k.rsaPEM),
		"ec=" + file("ec.pem", k.ecPEM),
		"ed=" + file("ed.pem", k.edPEM),
	}
	cfg.AuthIssuer = testIssuer
	cfg.AuthAudience = testAudience
}

// secServer starts a server that requires tokens (no -anonymous, no -dev),
// with the default rate and connection limits, changed by mod. It returns
// the server, its WebSocket address and its admin base URL.
func secServer(tb testing.TB, mod func(*config.Config)) (*server.Server, string, string) {
	tb.Helper()
	srv, addr := startServer(tb, func(c *config.Config) {
		c.Anonymous, c.NoLimits = false, false // startServer's core-test defaults, undone
		writeKeyFiles(tb, c)
		if mod != nil {
			mod(c)
		}
	})
	return srv, addr, "http://" + srv.AdminAddr().String()
}

// claims returns valid claims for sub, allowed to join rooms (glob
// patterns), expiring in an hour; kv pairs change them (a nil value
// deletes the claim).
func claims(sub string, rooms []string, kv ...any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub": sub,
		"iss": testIssuer,
		"aud": testAudience,
		"iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if rooms != nil {
		c["rooms"] = rooms
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

// mint signs c with method and key, with a kid header unless kid is "".
func mint(tb testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("signing %s token: %v", method.Alg(), err)
	}
	return s
}

// hsToken is the cheapest valid token: HS256 with the secret, no kid.
func hsToken(tb testing.TB, sub string, rooms ...string) string {
	tb.Helper()
	return mint(tb, jwt.SigningMethodHS256, testSecKeys(tb).secret, "", claims(sub, rooms))
}

// tokenVia says where a handshake carries its token.
type tokenVia int

const (
	viaHeader   tokenVia = iota // Authorization: Bearer TOKEN
	viaQuery                    // ?access_token=TOKEN
	viaProtocol                 // Sec-WebSocket-Protocol: bearer, TOKEN
)

func (v tokenVia) String() string {
	return [...]string{"header", "query", "protocol"}[v]
}

// hsResult is the outcome of a handshake read without net/http's help
// (so nothing past the response head is consumed): the status, the
// headers, the raw head, and for a refusal the body.
type hsResult struct {
	Status int
	Header http.Header
	Head   string
	Body   string
	Conn   *wstest.Conn // upgraded connection (101 only), bound to the test
}

// tokenRequest builds an upgrade request for path carrying token via v,
// plus extra header lines; an empty token adds nothing.
func tokenRequest(host, path, token string, v tokenVia, key string, extra ...string) []byte {
	if token != "" {
		switch v {
		case viaHeader:
			extra = append([]string{"Authorization: Bearer " + token}, extra...)
		case viaQuery:
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "access_token=" + token
		case viaProtocol:
			extra = append([]string{"Sec-WebSocket-Protocol: bearer, " + token}, extra...)
		}
	}
	return wstest.Request(host, path, key, extra...)
}

// handshake dials addr from local (nil: any address), writes req and
// reads the response. A 101 leaves the connection open as res.Conn
// (closed when the test ends); any other status is read whole and the
// connection is closed after checking the server ends it (no upgrade).
func handshake(tb testing.TB, local net.Addr, addr string, req []byte) (hsResult, error) {
	tb.Helper()
	d := net.Dialer{Timeout: wstest.DefaultTimeout, LocalAddr: local}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return hsResult{}, err
	}
	res, err := readHandshake(nc, req)
	if err != nil {
		nc.Close()
		return res, err
	}
	if res.Status == http.StatusSwitchingProtocols {
		res.Conn = wstest.NewConn(nc).Bind(tb)
		tb.Cleanup(func() { nc.Close() })
		return res, nil
	}
	defer nc.Close()
	// A refusal is final: the server sends nothing more and ends the
	// connection (it half-closes and lets us hang up).
	_ = nc.SetReadDeadline(time.Now().Add(wstest.DefaultTimeout))
	var b [64]byte
	n, err := nc.Read(b[:])
	if n > 0 || !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("after a %d: want EOF, got %d bytes %q, %v", res.Status, n, b[:n], err)
	}
	return res, nil
}

// readHandshake writes req on nc and reads the response head a byte at a
// time (nothing of what follows a 101 is consumed), then a refusal's
// Content-Length body.
func readHandshake(nc net.Conn, req []byte) (hsResult, error) {
	var res hsResult
	_ = nc.SetDeadline(time.Now().Add(wstest.DefaultTimeout))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(req); err != nil {
		return res, err
	}
	var head []byte
	var one [1]byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := io.ReadFull(nc, one[:]); err != nil {
			return res, fmt.Errorf("reading the response head after %q: %w", head, err)
		}
		head = append(head, one[0])
		if len(head) > 16<<10 {
			return res, errors.New("response head over 16 KiB")
		}
	}
	res.Head = string(head)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	if err != nil {
		return res, fmt.Errorf("parsing %q: %w", head, err)
	}
	res.Status, res.Header = resp.StatusCode, resp.Header
	if res.Status == http.StatusSwitchingProtocols {
		return res, nil
	}
	n, err := strconv.Atoi(resp.Header.Get("Content-Length"))
	if err != nil || n < 0 || n > 64<<10 {
		return res, fmt.Errorf("refusal %d without a usable Content-Length: %q", res.Status, head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(nc, body); err != nil {
		return res, fmt.Errorf("reading the %d body: %w", res.Status, err)
	}
	res.Body = string(body)
	return res, nil
}

// dialToken upgrades path on addr with token carried via v (from any
// local address) and returns the outcome; extra header lines are added.
func dialToken(tb testing.TB, addr, path, token string, v tokenVia, extra ...string) hsResult {
	tb.Helper()
	return dialTokenFrom(tb, nil, addr, path, token, v, extra...)
}

// dialTokenFrom is dialToken from a chosen local address.
func dialTokenFrom(tb testing.TB, local net.Addr, addr, path, token string, v tokenVia, extra ...string) hsResult {
	tb.Helper()
	key := wstest.NewKey()
	res, err := handshake(tb, local, addr, tokenRequest(addr, path, token, v, key, extra...))
	if err != nil {
		tb.Fatalf("handshake %s (token via %v): %v", path, v, err)
	}
	if res.Status == http.StatusSwitchingProtocols {
		if got := res.Header.Get("Sec-WebSocket-Accept"); got != wstest.AcceptFor(key) {
			tb.Fatalf("101 with Sec-WebSocket-Accept %q, want %q", got, wstest.AcceptFor(key))
		}
	}
	return res
}

// mustUpgrade fails the test unless res is a 101 and returns the
// connection.
func mustUpgrade(tb testing.TB, res hsResult, what string) *wstest.Conn {
	tb.Helper()
	if res.Status != http.StatusSwitchingProtocols {
		tb.Fatalf("%s: handshake answered %d %q, want 101", what, res.Status, strings.TrimSpace(res.Body))
	}
	return res.Conn
}

// expectRefusal fails the test unless res has status; it returns the
// body.
func expectRefusal(tb testing.TB, res hsResult, status int, what string) string {
	tb.Helper()
	if res.Status != status {
		if res.Conn != nil {
			res.Conn.Close()
		}
		tb.Fatalf("%s: handshake answered %d %q, want %d", what, res.Status, strings.TrimSpace(res.Body), status)
	}
	return res.Body
}

// srcAddr returns a TCP address on ip with any port, for net.Dialer's
// LocalAddr.
func srcAddr(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip)} }

// userSend sends payload to user through the admin API and returns how
// many connections it was addressed to.
func userSend(tb testing.TB, admin, user, payload string) int {
	tb.Helper()
	body := fmt.Sprintf(`{"payload":%q}`, payload)
	resp, err := http.Post(admin+"/api/users/"+user+"/send", "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatalf("user send: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("user send to %s: %d %s", user, resp.StatusCode, b)
	}
	var r struct {
		Recipients int `json:"recipients"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatalf("user send response %q: %v", b, err)
	}
	return r.Recipients
}

// errorMsg is the JSON error a connection gets for a dropped message.
type errorMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Room    string `json:"room"`
	Message string `json:"message"`
}

// checkErrorMsg fails the test unless op and p are a text JSON error
// with code (and room, when not empty).
func checkErrorMsg(tb testing.TB, op frame.Opcode, p []byte, code, room string) errorMsg {
	tb.Helper()
	var e errorMsg
	if op != frame.OpText {
		tb.Fatalf("want a text error message, got %v %q", op, p)
	}
	if err := json.Unmarshal(p, &e); err != nil {
		tb.Fatalf("error message %q is not JSON: %v", p, err)
	}
	if e.Type != "error" || e.Code != code || (room != "" && e.Room != room) || e.Message == "" {
		tb.Fatalf("error message %q: want type error, code %q, room %q and a message", p, code, room)
	}
	return e
}

// expectAlive fails the test unless c answers a ping with its pong (the
// next frame must be that pong).
func expectAlive(tb testing.TB, c *wstest.Conn, what string) {
	tb.Helper()
	c.Send(true, 0, frame.OpPing, []byte("alive?"))
	f, err := c.ReadFrame()
	if err != nil || f.Op != frame.OpPong || string(f.Payload) != "alive?" {
		tb.Fatalf("%s: want the pong, got %v %v", what, f, err)
	}
}

// metricDelta is a scrape's counters minus a baseline's, for the series
// named name with the given labels.
func metricDelta(after, before *promScrape, name string, labels map[string]string) float64 {
	return after.sum(name, labels) - before.sum(name, labels)
}
