package config

import (
	"flag"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Cluster is the part of Config that joins wsgate nodes into a cluster on
// NATS. Its zero value (no NATS at all) is one node on its own.
type Cluster struct {
	// NATS lists the NATS servers to connect to (nats://host:4222, or
	// tls://, several for failover); empty without NatsEmbedded means a
	// single node with no NATS at all.
	NATS []string
	// NatsCreds is a NATS credentials file (user JWT and nkey seed).
	NatsCreds string
	// NatsToken is a NATS authentication token; prefer its environment
	// twin WSGATE_NATS_TOKEN to the flag, which shows in the process list.
	NatsToken string
	// NatsTLSCA, NatsTLSCert and NatsTLSKey are PEM files: the CA that
	// signs the NATS servers' certificates, and a client certificate and
	// key for servers that ask for one.
	NatsTLSCA, NatsTLSCert, NatsTLSKey string
	// NatsSubjectPrefix starts every NATS subject wsgate uses; the nodes of
	// one cluster must agree on it, and several wsgate clusters can share
	// one NATS with different prefixes. Default "wsgate".
	NatsSubjectPrefix string
	// NatsEmbedded runs a NATS server inside the wsgate process, listening
	// on NatsListen, which the node's broker connects to: wsgate hosts form
	// a cluster with no other service. Default false.
	NatsEmbedded bool
	// NatsListen is the embedded server's client listener. Default
	// 127.0.0.1:4222.
	NatsListen string
	// NatsCluster is the embedded server's route listener (host:port);
	// empty means it forms no cluster with other hosts' servers.
	NatsCluster string
	// NatsRoutes are the other embedded servers' route listeners
	// (host:port); listing this host's own is harmless, so every host may
	// share one list.
	NatsRoutes []string
	// NatsStoreDir enables JetStream in the embedded NATS server (room
	// history in a cluster lives there) with its files in this
	// directory. Default empty: no JetStream.
	NatsStoreDir string
	// NodeName names this node in cluster views and logs. Default the
	// host name.
	NodeName string
	// ClusterTimeout bounds how long a cluster view (?scope=cluster, a
	// user's presence) waits for the other nodes' answers. Default 2s.
	ClusterTimeout time.Duration
}

// Clustered reports whether the node joins a cluster on NATS.
func (c Cluster) Clustered() bool { return len(c.NATS) > 0 || c.NatsEmbedded }

func defaultCluster() Cluster {
	return Cluster{NatsSubjectPrefix: "wsgate", NatsListen: "127.0.0.1:4222", ClusterTimeout: 2 * time.Second}
}

// bindCluster defines the cluster flags.
func (c *Config) bindCluster(fs *flag.FlagSet) {
	k := &c.Cluster
	fs.Var(stringList{&k.NATS}, "nats", "[cluster] comma-separated NATS server URLs (nats://host:4222): join the wsgate nodes connected to them (empty: one node, no NATS)")
	fs.StringVar(&k.NatsCreds, "nats-creds", k.NatsCreds, "[cluster] NATS credentials file (user JWT and nkey seed)")
	fs.StringVar(&k.NatsToken, "nats-token", k.NatsToken, "[cluster] NATS authentication token, also required by -nats-embedded's server (prefer WSGATE_NATS_TOKEN: flags show in ps)")
	fs.StringVar(&k.NatsTLSCA, "nats-tls-ca", k.NatsTLSCA, "[cluster] PEM file of the CA that signs the NATS servers' certificates")
	fs.StringVar(&k.NatsTLSCert, "nats-tls-cert", k.NatsTLSCert, "[cluster] PEM client certificate for NATS servers that ask for one")
	fs.StringVar(&k.NatsTLSKey, "nats-tls-key", k.NatsTLSKey, "[cluster] PEM private key for -nats-tls-cert")
	fs.StringVar(&k.NatsSubjectPrefix, "nats-subject-prefix", k.NatsSubjectPrefix, "[cluster] first part of every NATS subject; one wsgate cluster's nodes must agree, other clusters on the same NATS choose another")
	fs.BoolVar(&k.NatsEmbedded, "nats-embedded", k.NatsEmbedded, "[cluster] run a NATS server inside wsgate on -nats-listen and connect to it: hosts form a cluster with no other service")
	fs.StringVar(&k.NatsListen, "nats-listen", k.NatsListen, "[cluster] client listener of the embedded NATS server (host:port)")
	fs.StringVar(&k.NatsCluster, "nats-cluster", k.NatsCluster, "[cluster] route listener of the embedded NATS server (host:port) for the other hosts' servers (empty: no routes)")
	fs.StringVar(&k.NatsStoreDir, "nats-store-dir", k.NatsStoreDir, "[cluster] enable JetStream in the embedded NATS server (room history in a cluster lives there), its files in this directory")
	fs.Var(stringList{&k.NatsRoutes}, "nats-routes", "[cluster] comma-separated route listeners (host:port) of the other hosts' embedded NATS servers")
	fs.StringVar(&k.NodeName, "node-name", k.NodeName, "[cluster] this node's name in cluster views and logs (empty: the host name)")
	fs.DurationVar(&k.ClusterTimeout, "cluster-timeout", k.ClusterTimeout, "[cluster] how long a cluster view (?scope=cluster, a user's presence) waits for the other nodes")
}

// validateCluster checks the cluster settings.
func (c *Config) validateCluster(bad func(string, ...any)) {
	k := &c.Cluster
	for _, u := range k.NATS {
		if _, err := url.Parse(u); err != nil || strings.ContainsAny(u, " \t") {
			bad("nats URL %q: want nats://host:port", u)
		}
	}
	if k.NatsToken != "" && k.NatsCreds != "" {
		bad("nats-token and nats-creds exclude each other")
	}
	if (k.NatsTLSCert == "") != (k.NatsTLSKey == "") {
		bad("nats-tls-cert and nats-tls-key go together")
	}
	if !validSubjectPrefix(k.NatsSubjectPrefix) {
		bad("nats-subject-prefix %q: want dot-separated parts of A-Z a-z 0-9 _ - : @", k.NatsSubjectPrefix)
	}
	if k.NatsEmbedded {
		if _, _, err := net.SplitHostPort(k.NatsListen); err != nil {
			bad("nats-listen %q: %v", k.NatsListen, err)
		}
		if k.NatsCluster != "" {
			if _, _, err := net.SplitHostPort(k.NatsCluster); err != nil {
				bad("nats-cluster %q: %v", k.NatsCluster, err)
			}
		}
		if len(k.NatsRoutes) > 0 && k.NatsCluster == "" {
			bad("nats-routes need nats-cluster, the embedded server's own route listener")
		}
	} else if k.NatsCluster != "" || len(k.NatsRoutes) > 0 || k.NatsStoreDir != "" {
		bad("nats-cluster, nats-routes and nats-store-dir configure the embedded NATS server: they need nats-embedded")
	}
	if strings.ContainsAny(k.NodeName, "\r\n") {
		bad("node-name must be one line")
	}
	if k.ClusterTimeout <= 0 || k.ClusterTimeout > time.Minute {
		bad("cluster-timeout %v must be in (0, 1m]", k.ClusterTimeout)
	}
	for _, f := range []struct{ flag, path string }{{"nats-creds", k.NatsCreds}, {"nats-tls-ca", k.NatsTLSCA},
		{"nats-tls-cert", k.NatsTLSCert}, {"nats-tls-key", k.NatsTLSKey}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			bad("%s: %v", f.flag, err)
		}
	}
}

// validSubjectPrefix accepts dot-separated, non-empty parts of the bytes
// that stand for themselves in a NATS subject.
func validSubjectPrefix(p string) bool {
	if p == "" || len(p) > 200 {
		return false
	}
	for part := range strings.SplitSeq(p, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == ':' || c == '@') {
				return false
			}
		}
	}
	return true
}
