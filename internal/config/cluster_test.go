package config

import (
	"strings"
	"testing"
	"time"
)

// TestValidateCluster gives one bad cluster setting per case and expects
// the report to name it, once.
func TestValidateCluster(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Cluster)
		want string
	}{
		{"url", func(c *Cluster) { c.NATS = []string{"nats://a b"} }, `nats URL "nats://a b"`},
		{"token and creds", func(c *Cluster) { c.NatsToken, c.NatsCreds = "t", "/dev/null" }, "nats-token and nats-creds exclude each other"},
		{"tls half", func(c *Cluster) { c.NatsTLSCert = "/dev/null" }, "nats-tls-cert and nats-tls-key go together"},
		{"prefix", func(c *Cluster) { c.NatsSubjectPrefix = "a..b" }, `nats-subject-prefix "a..b"`},
		{"prefix wildcard", func(c *Cluster) { c.NatsSubjectPrefix = "a.*" }, `nats-subject-prefix "a.*"`},
		{"listen", func(c *Cluster) { c.NatsEmbedded, c.NatsListen = true, "4222" }, `nats-listen "4222"`},
		{"routes without cluster", func(c *Cluster) { c.NatsEmbedded, c.NatsRoutes = true, []string{"h:6222"} }, "nats-routes need nats-cluster"},
		{"cluster without embedded", func(c *Cluster) { c.NatsCluster = "127.0.0.1:6222" }, "they need nats-embedded"},
		{"timeout", func(c *Cluster) { c.ClusterTimeout = 0 }, "cluster-timeout 0s"},
		{"creds file", func(c *Cluster) { c.NatsCreds = "/nonexistent/creds" }, "nats-creds: stat /nonexistent/creds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mod(&c.Cluster)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted it; want %q", tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Count(msg, "config: ") != 1 {
				t.Fatalf("report %q, want one problem: %q", msg, tc.want)
			}
		})
	}
	c := valid()
	c.NATS = []string{"nats://10.0.0.1:4222", "tls://n2.example:4222"}
	c.NatsEmbedded, c.NatsCluster, c.NatsRoutes = true, "0.0.0.0:6222", []string{"10.0.0.2:6222"}
	c.ClusterTimeout = 5 * time.Second
	if err := c.Validate(); err != nil {
		t.Fatalf("a good cluster configuration: %v", err)
	}
	if !c.Clustered() || valid().Clustered() {
		t.Fatal("Clustered is wrong")
	}
}
