package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrNoTLS is returned by ReloadTLS on a server without -tls-cert.
var ErrNoTLS = errors.New("server: TLS is not configured")

// certStore holds the serving certificate. Handshakes read it with one
// atomic load; ReloadTLS swaps it, so connections that are open keep their
// session and new handshakes get the new certificate.
type certStore struct {
	certFile, keyFile string
	mu                sync.Mutex // serializes reloads
	cur               atomic.Pointer[tls.Certificate]
}

// load reads the key pair; on any error the current certificate stays.
func (cs *certStore) load() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cert, err := tls.LoadX509KeyPair(cs.certFile, cs.keyFile)
	if err != nil {
		return fmt.Errorf("server: loading TLS key pair %s, %s: %w", cs.certFile, cs.keyFile, err)
	}
	cs.cur.Store(&cert)
	return nil
}

func (cs *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cs.cur.Load(), nil }

// setupTLS loads the configured key pair and returns the listener's TLS
// configuration, or nil when TLS is off.
func (s *Server) setupTLS() (*tls.Config, error) {
	if s.cfg.TLSCert == "" {
		return nil, nil
	}
	cs := &certStore{certFile: s.cfg.TLSCert, keyFile: s.cfg.TLSKey}
	if err := cs.load(); err != nil {
		return nil, err
	}
	s.certs = cs
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: cs.get,
		NextProtos:     []string{"http/1.1"},
	}, nil
}

// ReloadTLS re-reads the certificate and key files given at start-up and
// serves the new pair to every handshake from now on; established
// connections are untouched. When the files cannot be loaded the old
// certificate stays in service and the error is returned. cmd/wsgate calls
// it on SIGHUP.
func (s *Server) ReloadTLS() error {
	if s.certs == nil {
		return ErrNoTLS
	}
	return s.certs.load()
}

// TLSCertificate returns the certificate now served, or nil without TLS.
func (s *Server) TLSCertificate() *tls.Certificate {
	if s.certs == nil {
		return nil
	}
	return s.certs.cur.Load()
}
