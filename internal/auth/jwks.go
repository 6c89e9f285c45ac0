package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// JWKS defaults; Options override them.
const (
	// DefaultJWKSRefresh is the interval between fetches of a healthy set.
	DefaultJWKSRefresh = 10 * time.Minute
	// DefaultJWKSEarlyGap is the least time between two fetches that a
	// token with an unknown kid asks for.
	DefaultJWKSEarlyGap = 10 * time.Second
	// jwksTimeout bounds one fetch.
	jwksTimeout = 10 * time.Second
	// jwksMaxBody bounds a JWKS document.
	jwksMaxBody = 1 << 20
	// jwksFirstBackoff and jwksMaxBackoff bound the wait after failed
	// fetches, doubled per failure (with jitter), never past the refresh
	// interval.
	jwksFirstBackoff = time.Second
	jwksMaxBackoff   = 5 * time.Minute
)

// ErrJWKS: a JWKS fetch failed; the wrapping error says why. The set in
// service, if any, stays in service.
var ErrJWKS = errors.New("auth: JWKS fetch failed")

// JWKSStatus is the state of a Verifier's JSON Web Key Set.
type JWKSStatus struct {
	// Keys is the number of usable keys in the set in service.
	Keys int
	// Fetches and Failures count fetches that succeeded and failed.
	Fetches, Failures uint64
	// LastSuccess is when the set in service was fetched; zero before the
	// first success.
	LastSuccess time.Time
}

// jwksSource keeps an identity provider's key set: fetched at start, then
// every refresh interval by a goroutine of its own, after failures with
// exponential backoff, and early (at most every earlyGap) when a token
// names a kid the set lacks. A failed fetch leaves the last good set in
// service. Readers (keyFor, on the event loop) never block: they load the
// set with one atomic read and ask for an early fetch without waiting.
type jwksSource struct {
	url      string
	client   *http.Client
	refresh  time.Duration
	earlyGap time.Duration
	log      *slog.Logger

	set      atomic.Pointer[map[string]key] // kid -> key; nil before the first success
	kick     chan struct{}                  // capacity 1: an early fetch is wanted
	fetches  atomic.Uint64
	failures atomic.Uint64
	lastOK   atomic.Int64 // unix nanoseconds of the fetch in service
	failing  bool         // the latest fetch failed; owned by the fetching goroutine (start, then run)

	cancel context.CancelFunc
	done   chan struct{}
}

func newJWKSSource(o Options) *jwksSource {
	s := &jwksSource{
		url:      o.JWKSURL,
		client:   o.JWKSClient,
		refresh:  o.JWKSRefresh,
		earlyGap: o.JWKSEarlyGap,
		log:      o.Logger,
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: jwksTimeout}
	}
	if s.refresh <= 0 {
		s.refresh = DefaultJWKSRefresh
	}
	if s.earlyGap <= 0 {
		s.earlyGap = DefaultJWKSEarlyGap
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// start makes the first fetch, waiting for it (a failure is logged and
// retried in the background, so a provider that is down does not keep
// the gateway from starting), then starts the refresh goroutine.
func (s *jwksSource) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	err := s.fetchOnce(ctx)
	go s.run(ctx, err)
}

// close stops the refresh goroutine and waits for it.
func (s *jwksSource) close() {
	s.cancel()
	<-s.done
}

// lookup returns the key with kid from the set in service.
func (s *jwksSource) lookup(kid string) key {
	if m := s.set.Load(); m != nil {
		return (*m)[kid]
	}
	return key{}
}

// askEarly asks the refresh goroutine for an early fetch, without waiting.
func (s *jwksSource) askEarly() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *jwksSource) status() JWKSStatus {
	st := JWKSStatus{Fetches: s.fetches.Load(), Failures: s.failures.Load()}
	if m := s.set.Load(); m != nil {
		st.Keys = len(*m)
	}
	if ns := s.lastOK.Load(); ns != 0 {
		st.LastSuccess = time.Unix(0, ns)
	}
	return st
}

// run is the refresh goroutine. last is the result of the latest fetch.
func (s *jwksSource) run(ctx context.Context, last error) {
	defer close(s.done)
	failed := 0
	lastAttempt := time.Now()
	for {
		wait := s.refresh
		if last != nil {
			failed++
			wait = backoff(failed, min(s.refresh, jwksMaxBackoff))
		} else {
			failed = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.kick:
			t.Stop()
			// An unknown kid: fetch now, unless the last fetch was
			// moments ago (a flood of bad tokens must not become a flood
			// of fetches) or the set is failing anyway (backoff rules).
			if gap := time.Since(lastAttempt); gap < s.earlyGap || last != nil {
				if !sleepCtx(ctx, max(s.earlyGap-gap, 0)) {
					return
				}
			}
		}
		lastAttempt = time.Now()
		last = s.fetchOnce(ctx)
	}
}

// backoff is the wait after the n-th failure in a row: 1s, 2s, 4s, ...
// up to limit, each shortened by up to a fifth at random so that many
// gateways do not retry in step.
func backoff(n int, limit time.Duration) time.Duration {
	d := jwksFirstBackoff << min(n-1, 20)
	if d > limit {
		d = limit
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// fetchOnce fetches the set and puts it in service, or counts and logs
// the failure and leaves the set in service as it is.
func (s *jwksSource) fetchOnce(ctx context.Context) error {
	set, skipped, err := s.fetch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: not the provider's fault
		}
		s.failures.Add(1)
		st := s.status()
		attrs := []any{"url", s.url, "err", err, "keys_in_service", st.Keys}
		if !st.LastSuccess.IsZero() {
			attrs = append(attrs, "set_age", time.Since(st.LastSuccess).Round(time.Second))
		}
		s.log.Warn("JWKS fetch failed; tokens are checked against the last good set", attrs...)
		s.failing = true
		return err
	}
	prev := s.set.Swap(&set)
	s.lastOK.Store(time.Now().UnixNano())
	s.fetches.Add(1)
	if prev == nil || !sameKids(*prev, set) || s.failing {
		s.log.Info("JWKS in service", "url", s.url, "keys", len(set), "kids", kidList(set), "skipped", skipped)
	}
	s.failing = false
	return nil
}

// fetch gets and parses the set: every key with a kid that verifies
// signatures and passes Key.check. Keys for encryption, symmetric keys,
// keys without kid and unsupported ones are skipped (counted); a set
// without one usable key is an error.
func (s *jwksSource) fetch(ctx context.Context) (map[string]key, int, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: HTTP status %d", ErrJWKS, resp.StatusCode)
	}
	var doc jwkset.JWKSMarshal
	if err := json.NewDecoder(io.LimitReader(resp.Body, jwksMaxBody)).Decode(&doc); err != nil {
		return nil, 0, fmt.Errorf("%w: not a JWK Set: %v", ErrJWKS, err)
	}
	set := make(map[string]key, len(doc.Keys))
	skipped := 0
	for _, m := range doc.Keys {
		k, err := jwkKey(m)
		if err != nil {
			skipped++
			s.log.Debug("JWKS key skipped", "kid", m.KID, "kty", m.KTY, "why", err)
			continue
		}
		if _, dup := set[m.KID]; dup {
			return nil, 0, fmt.Errorf("%w: kid %q appears twice", ErrJWKS, m.KID)
		}
		set[m.KID] = k
	}
	if len(set) == 0 {
		return nil, 0, fmt.Errorf("%w: no usable signature key among %d", ErrJWKS, len(doc.Keys))
	}
	return set, skipped, nil
}

// jwkKey turns one JWK into a verification key: jwkset decodes and
// validates the key material, Key.check applies our own rules (RSA of
// 2048 bits or more, ECDSA on P-256, Ed25519), and a JWK's alg, when
// given, pins the one alg the key verifies.
func jwkKey(m jwkset.JWKMarshal) (key, error) {
	switch {
	case m.KID == "":
		return key{}, errors.New("no kid")
	case m.USE == jwkset.UseEnc:
		return key{}, errors.New("an encryption key")
	case m.KTY == jwkset.KtyOct:
		return key{}, errors.New("a symmetric key: shared secrets do not belong in a published set")
	}
	m.D, m.P, m.Q, m.DP, m.DQ, m.QI, m.OTH, m.K = "", "", "", "", "", "", nil, ""
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return key{}, err
	}
	k, err := Key{ID: m.KID, Public: jwk.Key()}.check()
	if err != nil {
		return key{}, err
	}
	if alg := string(m.ALG); alg != "" {
		if kindOfAlg(alg) != k.kind {
			return key{}, fmt.Errorf("alg %s does not fit the key", alg)
		}
		k.alg = alg
	}
	return k, nil
}

func sameKids(a, b map[string]key) bool {
	if len(a) != len(b) {
		return false
	}
	for kid := range a {
		if _, ok := b[kid]; !ok {
			return false
		}
	}
	return true
}

func kidList(m map[string]key) []string {
	out := make([]string, 0, len(m))
	for kid := range m {
		out = append(out, kid)
	}
	sort.Strings(out)
	return out
}
