package broker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/wsgate/wsgate/internal/broker/wire"
)

// Options configure a broker. Each field's comment gives its zero-value
// default. The NATS fields mirror wsgate's -nats* flags.
type Options struct {
	// URLs are the NATS servers to connect to (-nats, comma-separated);
	// none means a single node with the Local broker. The client learns
	// the rest of a cluster from the servers themselves and fails over
	// among them.
	URLs []string
	// CredsFile is a NATS credentials file (-nats-creds).
	CredsFile string
	// Token is a NATS authentication token (-nats-token).
	Token string
	// TLSCA, TLSCert and TLSKey are PEM files (-nats-tls-ca, -nats-tls-cert,
	// -nats-tls-key): the CA that signs the servers' certificates, and the
	// client certificate with its key for servers that ask for one.
	TLSCA, TLSCert, TLSKey string
	// SubjectPrefix starts every subject the broker uses
	// (-nats-subject-prefix); nodes of one cluster must agree on it, and
	// two wsgate clusters can share NATS with different prefixes. Default
	// "wsgate".
	SubjectPrefix string

	// NodeID identifies this process in the cluster and travels in every
	// message it publishes. It must be unique; leave it empty for a random
	// one. Default 16 random hex digits.
	NodeID string
	// NodeName is the name shown for this node in cluster views. Default
	// the host name.
	NodeName string

	// Handler receives the messages of other nodes. Default: discard.
	Handler Handler
	// Stats returns this node's stats for Gather: one JSON value. Default:
	// null.
	Stats func() json.RawMessage
	// UserConns returns how many connections user has on this node, for
	// Presence. Default: 0.
	UserConns func(user string) int
	// View returns this node's part of a named cluster view for
	// GatherView: one JSON value, which should stay well under the NATS
	// payload limit (1 MiB by default) or the node's answer is lost.
	// Default: null.
	View func(name string) json.RawMessage

	// Grace is how long the node keeps receiving a room or user after its
	// last local member left, so join/leave churn does not thrash NATS.
	// Default 2s.
	Grace time.Duration
	// ReconnectBuffer bounds the bytes of messages buffered while the
	// connection is down; publishes past it are dropped. Default 8 MiB.
	ReconnectBuffer int
	// ReconnectWait is the pause between attempts to reach the same
	// server. Default 1s.
	ReconnectWait time.Duration
	// WriteTimeout bounds one write to the NATS server; a server that
	// takes longer is left for another one of the cluster (what was
	// being written is lost). A publish waits for the network only when
	// nats.go's 32 KiB write buffer is full, and then at most this long.
	// Default 10s.
	WriteTimeout time.Duration
	// PingInterval is how often the client pings its server; two
	// unanswered pings mean the server is gone. Default 20s.
	PingInterval time.Duration
	// Dispatchers is the number of delivery goroutines; each room or user
	// is served by one of them. Default 4.
	Dispatchers int
	// DispatchQueue bounds the messages waiting for each delivery
	// goroutine; past it messages are dropped and counted. Default 65536.
	DispatchQueue int
	// AnnounceInterval is how often the node announces itself to the
	// others, which expect its answers to Gather and Presence until three
	// intervals pass without one. Default 5s.
	AnnounceInterval time.Duration

	// Logger receives connection state changes, each logged once.
	// Default: slog.Default().
	Logger *slog.Logger

	// RoomFollowed, when set, is called once the node's subscription to a
	// room has reached its NATS server (before any request the node sends
	// after it), and RoomUnfollowed once it has ended. Missed is called
	// when messages sent to the node may not have reached it: after the
	// main connection came back, and after NATS dropped messages because a
	// delivery queue was full, once the queues have drained. They run on
	// the broker's own goroutines, Missed never twice at once, and may
	// wait briefly. A store of room history over JetStream uses them to
	// know which rooms' messages it receives, and when to ask the log what
	// it missed.
	RoomFollowed, RoomUnfollowed func(room string)
	Missed                       func()
}

// DefaultSubjectPrefix is the subject prefix when Options.SubjectPrefix is
// empty.
const DefaultSubjectPrefix = "wsgate"

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if o.NodeID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.NodeID = hex.EncodeToString(b[:])
	}
	if o.NodeName == "" {
		o.NodeName, _ = os.Hostname()
		if o.NodeName == "" {
			o.NodeName = o.NodeID
		}
	}
	if o.Handler == nil {
		o.Handler = func(Message) {}
	}
	if o.Stats == nil {
		o.Stats = func() json.RawMessage { return nil }
	}
	if o.UserConns == nil {
		o.UserConns = func(string) int { return 0 }
	}
	if o.View == nil {
		o.View = func(string) json.RawMessage { return nil }
	}
	if o.Grace == 0 {
		o.Grace = 2 * time.Second
	}
	if o.ReconnectBuffer == 0 {
		o.ReconnectBuffer = 8 << 20
	}
	if o.ReconnectWait == 0 {
		o.ReconnectWait = time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval == 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.Dispatchers == 0 {
		o.Dispatchers = 4
	}
	if o.DispatchQueue == 0 {
		o.DispatchQueue = 65536
	}
	if o.AnnounceInterval == 0 {
		o.AnnounceInterval = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("broker: "+format, args...)) }
	for _, u := range o.URLs {
		if strings.TrimSpace(u) == "" || strings.ContainsAny(u, " \t") {
			bad("bad NATS URL %q", u)
		}
	}
	if o.SubjectPrefix != "" && !wire.ValidPrefix(o.SubjectPrefix) {
		bad("subject prefix %q: want dot-separated parts of A-Z a-z 0-9 _ - : @", o.SubjectPrefix)
	}
	if strings.ContainsAny(o.NodeID, " \t\r\n") || len(o.NodeID) > 64 {
		bad("node id %q: want at most 64 bytes and no spaces", o.NodeID)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		bad("TLS certificate and key go together")
	}
	if o.Token != "" && o.CredsFile != "" {
		bad("a token and a credentials file exclude each other")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"grace", o.Grace}, {"reconnect wait", o.ReconnectWait}, {"announce interval", o.AnnounceInterval},
		{"write timeout", o.WriteTimeout}, {"ping interval", o.PingInterval}} {
		if d.v < 0 {
			bad("negative %s %v", d.name, d.v)
		}
	}
	if o.ReconnectBuffer < 0 || o.Dispatchers < 0 || o.DispatchQueue < 0 {
		bad("negative reconnect buffer, dispatchers or dispatch queue")
	}
	return errors.Join(errs...)
}

// SplitURLs splits a -nats flag value ("nats://a:4222,nats://b:4222") into
// URLs, dropping empty items.
func SplitURLs(s string) []string {
	var out []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
