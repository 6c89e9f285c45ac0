package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestTLSReloadOnSIGHUP runs wsgate with -tls-cert/-tls-key, holds 200
// wss clients, and sends SIGHUP after replacing the certificate: new
// connections get the new certificate, the 200 keep echoing and the
// process keeps running. A SIGHUP with a broken file logs the error and
// keeps the current certificate; SIGTERM still drains and exits 0.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	roots := wstest.WriteTestCert(t, certFile, keyFile, 1)
	c := startWsgate(t, nil, "-tls-cert", certFile, "-tls-key", keyFile)

	const clients = 200
	conns := make([]*wstest.Conn, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16) // handshakes in this (maybe race-enabled) process are slow
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			conns[i], errs[i] = dialSerial(c.addr, roots, 1)
		})
	}
	wg.Wait()
	defer func() {
		for _, wc := range conns {
			if wc != nil {
				wc.Close()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	echoEach(t, conns, "before")

	roots2 := wstest.WriteTestCert(t, certFile, keyFile, 2)
	c.signal(t, syscall.SIGHUP)
	wstest.WaitFor(t, 10*time.Second, "no reload logged", func() bool {
		return strings.Contains(c.stderr.String(), "TLS certificate reloaded")
	})
	fresh, err := dialSerial(c.addr, roots2, 2)
	if err != nil {
		t.Fatal(err)
	}
	fresh.Close()
	echoEach(t, conns, "after reload")

	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.signal(t, syscall.SIGHUP)
	wstest.WaitFor(t, 10*time.Second, "no failed reload logged", func() bool {
		return strings.Contains(c.stderr.String(), "TLS certificate not reloaded")
	})
	if fresh, err = dialSerial(c.addr, roots2, 2); err != nil {
		t.Fatal(err)
	}
	fresh.Close()
	echoEach(t, conns, "after a failed reload")
	select {
	case <-c.exited:
		t.Fatal("SIGHUP stopped the process")
	default:
	}
	if st := c.stats(t); st.Open < clients {
		t.Fatalf("open = %d after the reloads, want at least %d", st.Open, clients)
	}

	c.signal(t, syscall.SIGTERM)
	if code := c.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
}

// dialSerial opens a wss connection and checks the certificate's serial.
func dialSerial(addr string, roots *x509.CertPool, want int64) (*wstest.Conn, error) {
	wc, err := wstest.ConnectTLS(addr, "/echo", roots)
	if err != nil {
		return nil, err
	}
	if got := wc.PeerSerial(); got != want {
		wc.Close()
		return nil, fmt.Errorf("certificate serial %d, want %d", got, want)
	}
	return wc, nil
}

// echoEach makes every connection echo one text message, all at once.
func echoEach(t *testing.T, conns []*wstest.Conn, when string) {
	t.Helper()
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, wc := range conns {
		wg.Go(func() {
			msg := fmt.Appendf(nil, "%s %d", when, i)
			if err := wc.WriteMessage(frame.OpText, msg); err != nil {
				errs[i] = err
				return
			}
			if op, got, err := wc.ReadMessage(); err != nil || op != frame.OpText || string(got) != string(msg) {
				errs[i] = fmt.Errorf("client %d %s: got %v %q, %v", i, when, op, got, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}
