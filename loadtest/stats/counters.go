package stats

import (
	"reflect"
	"strings"
	"sync/atomic"
)

// Counters are the totals of a run. Every field is a count; merging adds
// them. The JSON name of each field is also its label in the text summary
// and its name in a --threshold, so the three always say the same thing.
type Counters struct {
	ConnectAttempts int64 `json:"connect_attempts"` // dials started
	Connected       int64 `json:"connected"`        // handshakes completed with a verified 101
	ConnectFailed   int64 `json:"connect_failed"`   // dials that never opened; by kind in Snapshot.Failures
	Cancelled       int64 `json:"cancelled"`        // dials still in their handshake when the run ended
	DeflateConns    int64 `json:"deflate_conns"`    // connections with permessage-deflate negotiated
	Closed          int64 `json:"closed"`           // open connections that closed during the run, by either side
	ServerCloses    int64 `json:"server_closes"`    // of those, closed by the server or the network; by reason in Snapshot.Closes
	Reconnects      int64 `json:"reconnects"`       // churn: dials made again after a close or a failure

	MsgsOut  int64 `json:"msgs_out"`
	MsgsIn   int64 `json:"msgs_in"`
	BytesOut int64 `json:"bytes_out"` // payload bytes before compression
	BytesIn  int64 `json:"bytes_in"`  // payload bytes after decompression

	DeflateMsgsOut  int64 `json:"deflate_msgs_out"`  // messages sent compressed
	DeflateBytesOut int64 `json:"deflate_bytes_out"` // their payload bytes before compression
	DeflateWireOut  int64 `json:"deflate_wire_out"`  // their payload bytes after compression
	DeflateMsgsIn   int64 `json:"deflate_msgs_in"`   // messages the server sent compressed
	DeflateBytesIn  int64 `json:"deflate_bytes_in"`  // their payload bytes after decompression
	DeflateWireIn   int64 `json:"deflate_wire_in"`   // their payload bytes as received

	Subscribers     int64 `json:"subscribers"`       // broadcast subscribers that opened
	Published       int64 `json:"published"`         // broadcast messages published
	PublishFailed   int64 `json:"publish_failed"`    // publishes that could not be sent
	PublisherMsgsIn int64 `json:"publisher_msgs_in"` // messages publisher connections received (they are room members too)

	Expected   int64 `json:"expected"` // deliveries expected (broadcast) or replies expected (echo)
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	Reordered  int64 `json:"reordered"`
	Late       int64 `json:"late"`   // open loop: sends that left later than intended by over 1 ms
	Unsent     int64 `json:"unsent"` // open loop: scheduled sends not made (sender behind, or no open connection)

	SlowConns     int64 `json:"slow_conns"`
	StalledConns  int64 `json:"stalled_conns"`
	SlowClosed    int64 `json:"slow_closed"`    // slow readers the server disconnected
	StalledClosed int64 `json:"stalled_closed"` // stalled readers the server disconnected

	ProtocolErrors int64 `json:"protocol_errors"` // frames from the server that broke the protocol
	SendErrors     int64 `json:"send_errors"`     // writes that failed
	Corrupt        int64 `json:"corrupt"`         // messages that failed their checks (stamp, length, opcode)
	ErrorFrames    int64 `json:"error_frames"`    // server error messages ({"type":"error",...}); by code in Snapshot.ErrorCodes
	// Errors is everything that went wrong: connect_failed +
	// protocol_errors + send_errors + corrupt + error_frames +
	// publish_failed. Lost messages are counted in Lost alone.
	Errors int64 `json:"errors"`
}

// ErrorParts are the counters whose sum is Counters.Errors, by JSON name.
var ErrorParts = []string{"connect_failed", "protocol_errors", "send_errors", "corrupt", "error_frames", "publish_failed"}

// sumErrors sets Errors to the sum of its parts.
func (c *Counters) sumErrors() {
	c.Errors = c.ConnectFailed + c.ProtocolErrors + c.SendErrors + c.Corrupt + c.ErrorFrames + c.PublishFailed
}

// Add adds o to c field by field.
func (c *Counters) Add(o *Counters) {
	a, b := reflect.ValueOf(c).Elem(), reflect.ValueOf(o).Elem()
	for i := 0; i < a.NumField(); i++ {
		a.Field(i).SetInt(a.Field(i).Int() + b.Field(i).Int())
	}
}

// CounterNames returns the JSON names of the counters, in field order.
func CounterNames() []string {
	t := reflect.TypeFor[Counters]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = jsonName(t.Field(i))
	}
	return out
}

// Get returns the counter with the given JSON name.
func (c *Counters) Get(name string) (int64, bool) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if jsonName(t.Field(i)) == name {
			return v.Field(i).Int(), true
		}
	}
	return 0, false
}

func jsonName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return n
}

// LiveCounters is the atomic form of Counters used while running: one
// field of the same name for each counter except the derived Errors, and
// the gauge Open. Code that measures adds to its fields directly.
type LiveCounters struct {
	ConnectAttempts, Connected, ConnectFailed, Cancelled, DeflateConns atomic.Int64
	Closed, ServerCloses, Reconnects                                   atomic.Int64
	MsgsOut, MsgsIn, BytesOut, BytesIn                                 atomic.Int64
	DeflateMsgsOut, DeflateBytesOut, DeflateWireOut                    atomic.Int64
	DeflateMsgsIn, DeflateBytesIn, DeflateWireIn                       atomic.Int64
	Subscribers, Published, PublishFailed, PublisherMsgsIn             atomic.Int64
	Expected, Delivered, Lost, Duplicates, Reordered, Late, Unsent     atomic.Int64
	SlowConns, StalledConns, SlowClosed, StalledClosed                 atomic.Int64
	ProtocolErrors, SendErrors, Corrupt, ErrorFrames                   atomic.Int64
	Open                                                               atomic.Int64 // connections open now
}

// snapshot reads every live counter into a Counters (not atomically as a
// whole: each figure is exact, their sum may straddle an update).
func (l *LiveCounters) snapshot() Counters {
	var c Counters
	cv := reflect.ValueOf(&c).Elem()
	lv := reflect.ValueOf(l).Elem()
	for i := 0; i < cv.NumField(); i++ {
		f := lv.FieldByName(cv.Type().Field(i).Name)
		if !f.IsValid() {
			continue // derived
		}
		cv.Field(i).SetInt(f.Addr().Interface().(*atomic.Int64).Load())
	}
	c.sumErrors()
	return c
}
