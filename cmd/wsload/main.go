// Command wsload is wsgate's WebSocket load generator: connect, echo,
// broadcast and churn scenarios on an event-loop client, with HDR latency
// histograms, per-second series, JSON and HTML reports, CI thresholds and
// multi-process runs. Run "wsload" for usage; see loadtest/README.md.
package main

import (
	"os"

	"github.com/wsgate/wsgate/loadtest"
)

func main() {
	os.Exit(loadtest.Main(os.Args[1:], os.Stdout, os.Stderr))
}
