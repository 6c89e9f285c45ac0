package admission

import (
	"errors"
	"strconv"

	"github.com/wsgate/wsgate/internal/limits"
)

// Kind names the limit behind a refusal: the label of the server's
// wsgate_rate_limited_total{kind} series.
type Kind uint8

// The limits, in the order of KindNames.
const (
	Messages       Kind = iota // a connection's messages per second
	Bytes                      // a connection's message bytes per second
	UserMessages               // a user's messages per second
	UserBytes                  // a user's message bytes per second
	ConnectionRate             // new connections per second from one address
	ConnsPerIP                 // connections held by one address
	ConnsPerUser               // connections held by one user
	ConnsTotal                 // connections held by the server
	Frames                     // a connection's frames per second
	numKinds
)

var kindNames = [numKinds]string{"messages", "bytes", "user_messages", "user_bytes", "connection_rate",
	"connections_per_ip", "connections_per_user", "connections_total", "frames"}

// KindNames returns the label of each Kind, indexed by Kind.
func KindNames() []string { return append([]string(nil), kindNames[:]...) }

// String returns the kind's label.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// KindOf reports which connection limit an error of CheckRate or Admit
// (or of the counter) stands for; false for the other refusals (a token,
// a room permission).
func KindOf(err error) (Kind, bool) {
	switch {
	case errors.Is(err, limits.ErrConnRate):
		return ConnectionRate, true
	case errors.Is(err, limits.ErrTooManyConns):
		return ConnsTotal, true
	case errors.Is(err, limits.ErrTooManyUserConns):
		return ConnsPerUser, true
	case errors.Is(err, limits.ErrTooManyIPConns):
		return ConnsPerIP, true
	}
	return 0, false
}

// Rate is one connection's rate state. A connection keeps a pointer to
// it, nil until its first metered message, so one that never sends holds
// nothing more. It belongs to the connection's goroutine.
type Rate struct {
	b limits.ConnBuckets
	f limits.Bucket // frames
	v limits.Violations
}

// Verdict is the decision on one message.
type Verdict struct {
	// Action is 0 when the message passes, limits.Drop when it must be
	// dropped (and the client told), limits.Close when the connection
	// must close with limits.CloseCode.
	Action limits.Action
	// Limit is the limit that refused the message.
	Limit Kind
	// Left is the violations the connection may still commit before the
	// one that closes it, for a Drop.
	Left int
}

// OK reports whether the message passes.
func (v Verdict) OK() bool { return v.Action == 0 }

// AppendText appends the refusal a client is told for a dropped message:
// "message dropped: user rate limit exceeded; closing after 3 more".
func (v Verdict) AppendText(dst []byte) []byte {
	scope := "connection"
	if v.Limit == UserMessages || v.Limit == UserBytes {
		scope = "user"
	}
	dst = append(dst, "message dropped: "...)
	dst = append(dst, scope...)
	dst = append(dst, " rate limit exceeded; closing after "...)
	dst = strconv.AppendInt(dst, int64(v.Left), 10)
	return append(dst, " more"...)
}

// AllowMessage applies the rate limits to one message of n bytes: the
// connection's (state in *r, allocated at the first limited message) and,
// when user is not "", the user's across its connections. A message the
// user's limit refuses costs the connection's budget nothing. Pings and
// pongs are metered with user "": a liveness check on one connection must
// not fail because the user's other connections are busy. It does not
// allocate after the first call.
func (g *Gate) AllowMessage(r **Rate, user string, n int) Verdict {
	if !g.connOn && g.userRate == nil {
		return Verdict{}
	}
	now := g.clock()
	var saved limits.ConnBuckets // the connection's buckets before this message
	if g.connOn {
		if *r == nil {
			*r = &Rate{}
		}
		rl := *r
		saved = rl.b
		if !rl.b.Allow(&g.conn, now, int64(n)) {
			// Which limit refused it? Ask a copy: the dropped message
			// must not spend the byte budget.
			kind, probe := Messages, rl.b
			if g.conn.Msgs.Unlimited() || !probe.Allow(&limits.ConnLimits{Bytes: g.conn.Bytes}, now, int64(n)) {
				kind = Bytes
			}
			return g.violation(rl, kind)
		}
	}
	if user != "" && g.userRate != nil && !g.userRate.Allow(user, now, int64(n)) {
		// A zero-byte message waits only for the message bucket.
		kind := UserBytes
		if g.userRate.Delay(user, now, 0) > 0 {
			kind = UserMessages
		}
		if *r == nil {
			*r = &Rate{}
		}
		if g.connOn {
			(*r).b = saved // a dropped message costs the connection nothing
		}
		return g.violation(*r, kind)
	}
	return Verdict{}
}

// violation records one violation of the connection and returns the
// policy's verdict.
func (g *Gate) violation(r *Rate, kind Kind) Verdict {
	if g.policy.Violation(&r.v) == limits.Close {
		return Verdict{Action: limits.Close, Limit: kind}
	}
	return Verdict{Action: limits.Drop, Limit: kind, Left: int(g.policy.CloseAfter) - int(r.v.Count())}
}

// AllowFrames charges n frames, the frames of one read, to the
// connection's frame budget, and reports false when they are over it: the
// connection must close with 1008 (a frame cannot be dropped alone, and no
// client needs that many).
func (g *Gate) AllowFrames(r **Rate, n int) bool {
	if g.frames.Unlimited() {
		return true
	}
	if *r == nil {
		*r = &Rate{}
	}
	return (*r).f.Allow(&g.frames, g.clock(), int64(n))
}
