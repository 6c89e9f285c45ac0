package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/config"
)

// checkFiles opens every file the configuration names, as the server
// would at start, and reports every problem at once: the token key and
// secret files, the TLS certificate and key (a pair that belongs
// together, a certificate in its validity period), and the API key file.
func checkFiles(cfg *config.Config) error {
	var errs []error
	if len(cfg.AuthSecretFiles)+len(cfg.AuthKeyFiles) > 0 {
		if _, err := auth.NewVerifier(auth.Options{SecretFiles: cfg.AuthSecretFiles, KeyFiles: cfg.AuthKeyFiles}); err != nil {
			errs = append(errs, fmt.Errorf("config: token keys: %w", err))
		}
	}
	if cfg.TLSCert != "" && cfg.TLSKey != "" {
		if err := checkTLSPair(cfg.TLSCert, cfg.TLSKey, time.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.APIKeyFile != "" {
		b, err := os.ReadFile(cfg.APIKeyFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("config: api-key-file: %w", err))
		case strings.TrimSpace(string(b)) == "":
			errs = append(errs, fmt.Errorf("config: api-key-file %s is empty", cfg.APIKeyFile))
		}
	}
	return errors.Join(errs...)
}

// checkTLSPair loads the pair as the listener does and refuses a
// certificate that is expired or not yet valid at now.
func checkTLSPair(certFile, keyFile string, now time.Time) error {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("config: tls-cert %s and tls-key %s: %w", certFile, keyFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("config: tls-cert %s: %w", certFile, err)
	}
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("config: tls-cert %s expired at %s", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("config: tls-cert %s is not valid before %s", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}
