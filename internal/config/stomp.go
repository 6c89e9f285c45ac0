package config

import (
	"flag"
	"net/url"
	"strings"
	"time"
)

// STOMP configures the STOMP 1.2 endpoint (STOMP over WebSocket, as
// @stomp/stompjs speaks it). Each field's comment gives its default.
type STOMP struct {
	// Path is the endpoint's path; empty disables it. Default /stomp.
	Path string
	// HeartBeatSend and HeartBeatReceive are the server's heart-beat
	// header: how often it can send heart-beats and how often it wants
	// them. Default 10s,10s; 0 turns a direction off.
	HeartBeatSend, HeartBeatReceive time.Duration
	// MaxSubscriptions is the most subscriptions one session holds.
	// Default 256.
	MaxSubscriptions int
	// MaxFrame bounds one STOMP frame (command, headers, body); 0 means
	// the fan-out message limit (-room-max-message).
	MaxFrame int64
	// MaxHeaders and MaxHeaderLine bound a frame's header lines and the
	// length of each. Defaults 64 and 8 KiB.
	MaxHeaders    int
	MaxHeaderLine int
	// QueueBacklog is how many messages a /queue destination keeps while
	// it has no consumer with room; past it the oldest is dropped
	// (counted). Default 1000.
	QueueBacklog int
	// AppURL receives an HTTP POST for every SEND to /app/...; empty
	// refuses such SENDs with an ERROR.
	AppURL string
	// AppTimeout bounds one forward. Default 5s.
	AppTimeout time.Duration
	// AppWorkers is how many forwards run at once; AppQueue how many may
	// wait (past it the sender gets an error on /user/queue/errors).
	// Defaults 16 and 1024.
	AppWorkers, AppQueue int
}

// DefaultSTOMP returns the STOMP defaults.
func DefaultSTOMP() STOMP {
	return STOMP{
		Path:             "/stomp",
		HeartBeatSend:    10 * time.Second,
		HeartBeatReceive: 10 * time.Second,
		MaxSubscriptions: 256,
		MaxHeaders:       64,
		MaxHeaderLine:    8 << 10,
		QueueBacklog:     1000,
		AppTimeout:       5 * time.Second,
		AppWorkers:       16,
		AppQueue:         1024,
	}
}

// heartBeatFlag is -stomp-heartbeat: "SEND,RECEIVE" as durations ("10s,10s")
// or milliseconds ("10000,10000", as in the STOMP header).
type heartBeatFlag struct{ send, recv *time.Duration }

func (h heartBeatFlag) String() string {
	if h.send == nil {
		return ""
	}
	return h.send.String() + "," + h.recv.String()
}

func (h heartBeatFlag) Set(s string) error {
	a, b, ok := strings.Cut(s, ",")
	if !ok {
		return errHeartBeat
	}
	send, err1 := parseHBDuration(a)
	recv, err2 := parseHBDuration(b)
	if err1 != nil || err2 != nil {
		return errHeartBeat
	}
	*h.send, *h.recv = send, recv
	return nil
}

var errHeartBeat = errorString("want SEND,RECEIVE: two durations (10s,10s) or milliseconds (10000,10000)")

type errorString string

func (e errorString) Error() string { return string(e) }

func parseHBDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	d, err := time.ParseDuration(s + "ms")
	if err != nil {
		return 0, err
	}
	return d, nil
}

// bind defines the STOMP flags.
func (s *STOMP) bind(fs *flag.FlagSet) {
	fs.StringVar(&s.Path, "stomp-path", s.Path, "[stomp] path of the STOMP 1.2 over WebSocket endpoint (empty disables it)")
	fs.Var(heartBeatFlag{&s.HeartBeatSend, &s.HeartBeatReceive}, "stomp-heartbeat", "[stomp] server heart-beats: how often it sends, how often it wants them (SEND,RECEIVE; 0 is off)")
	fs.IntVar(&s.MaxSubscriptions, "stomp-max-subscriptions", s.MaxSubscriptions, "[stomp] most subscriptions per session")
	fs.Var(byteSize[int64]{&s.MaxFrame}, "stomp-max-frame", "[stomp] largest STOMP frame (0: -room-max-message)")
	fs.IntVar(&s.MaxHeaders, "stomp-max-headers", s.MaxHeaders, "[stomp] most header lines per frame")
	fs.Var(byteSize[int]{&s.MaxHeaderLine}, "stomp-max-header-line", "[stomp] longest header line")
	fs.IntVar(&s.QueueBacklog, "stomp-queue-backlog", s.QueueBacklog, "[stomp] messages a /queue keeps while no consumer has room (then the oldest is dropped)")
	fs.StringVar(&s.AppURL, "stomp-app-url", s.AppURL, "[stomp] URL that receives an HTTP POST per SEND to /app/... (empty: such SENDs get an ERROR)")
	fs.DurationVar(&s.AppTimeout, "stomp-app-timeout", s.AppTimeout, "[stomp] timeout of one /app forward")
	fs.IntVar(&s.AppWorkers, "stomp-app-workers", s.AppWorkers, "[stomp] /app forwards in flight at once")
	fs.IntVar(&s.AppQueue, "stomp-app-queue", s.AppQueue, "[stomp] /app forwards that may wait for a worker")
}

// validate reports the STOMP settings' problems through bad.
func (s *STOMP) validate(bad func(string, ...any)) {
	if s.Path != "" && !strings.HasPrefix(s.Path, "/") {
		bad("stomp-path %q must start with /", s.Path)
	}
	if s.HeartBeatSend < 0 || s.HeartBeatReceive < 0 {
		bad("stomp-heartbeat must not be negative")
	}
	if (s.HeartBeatSend > 0 && s.HeartBeatSend < 100*time.Millisecond) || (s.HeartBeatReceive > 0 && s.HeartBeatReceive < 100*time.Millisecond) {
		bad("stomp-heartbeat intervals must be 0 or at least 100ms")
	}
	if s.MaxSubscriptions < 1 {
		bad("stomp-max-subscriptions must be at least 1")
	}
	if s.MaxFrame < 0 || s.MaxHeaders < 1 || s.MaxHeaderLine < 64 {
		bad("stomp-max-frame must be >= 0, stomp-max-headers >= 1, stomp-max-header-line >= 64")
	}
	if s.QueueBacklog < 0 {
		bad("stomp-queue-backlog must be >= 0")
	}
	if s.AppURL != "" {
		if u, err := url.Parse(s.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("stomp-app-url %q must be an http or https URL", s.AppURL)
		}
	}
	if s.AppTimeout <= 0 || s.AppWorkers < 1 || s.AppQueue < 1 {
		bad("stomp-app-timeout must be positive, stomp-app-workers and stomp-app-queue at least 1")
	}
}
