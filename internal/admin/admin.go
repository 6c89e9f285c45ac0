// Package admin is wsgate's HTTP administration API, served on its own
// listener with net/http: publishing to rooms and users, room and counter
// listings, Prometheus metrics, health and readiness, and (optionally)
// pprof. It talks to the gateway only through Backend, so it knows nothing
// of connections or the event loop.
package admin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/hub"
)

// Backend is what the admin API asks of the gateway.
type Backend interface {
	// Publish queues one message for every member of room and returns
	// how many members the room had. It waits while the room's fan-out
	// queue is full, until ctx ends (then ErrOverloaded).
	Publish(ctx context.Context, room string, op frame.Opcode, payload []byte) (recipients int, err error)
	// SendUser queues one message for every connection of user, as
	// Publish does for a room.
	SendUser(ctx context.Context, user string, op frame.Opcode, payload []byte) (recipients int, err error)
	// Rooms calls fn with each room's name and member count until fn
	// returns false.
	Rooms(fn func(name string, members int) bool)
	// Stats returns the gateway's counters, as a JSON-encodable value.
	Stats() any
	// Metrics serves every metric in the Prometheus exposition format.
	Metrics() http.Handler
	// Draining reports whether a graceful shutdown has begun.
	Draining() bool
	// OpenConns returns the number of open connections.
	OpenConns() int64
}

// Errors a Backend returns that the API answers with 503 and Retry-After.
var (
	// ErrDraining: the gateway is shutting down and takes no new messages.
	ErrDraining = errors.New("admin: draining")
	// ErrOverloaded: the fan-out queue stayed full for the whole wait.
	ErrOverloaded = errors.New("admin: fan-out queue full")
)

// ErrBadDestination is returned by DestinationSender for a destination it
// cannot address; the API answers 400.
var ErrBadDestination = errors.New("admin: destination must be /user/queue/NAME or /user/topic/NAME")

// Options configures the API.
type Options struct {
	// APIKey, when set, is required on /api/* as "Authorization: Bearer
	// KEY" or "X-API-Key: KEY".
	APIKey string
	// Pprof serves /debug/pprof/ and /debug/memstats.
	Pprof bool
	// MaxPayload bounds a published message, in bytes (after base64
	// decoding for binary payloads).
	MaxPayload int64
	// PublishWait bounds how long a publish waits for room in a full
	// fan-out queue before it is answered 503; default 5s.
	PublishWait time.Duration
	// UI, when set, is served at UIPath and below without the API key
	// (a page that holds no data: it asks the API, with the key the user
	// gives it). The path without its final slash goes to UI too.
	UI     http.Handler
	UIPath string
}

type api struct {
	b Backend
	o Options
}

// publishRequest is the body of POST /api/publish and
// POST /api/users/{id}/send. Unknown fields are refused: a misspelt
// "binary" must not silently send base64 text.
type publishRequest struct {
	// Room names the room (publish only).
	Room string `json:"room"`
	// Payload is the message; for binary messages, standard base64. It is
	// required (an empty string is an empty message).
	Payload *string `json:"payload"`
	// Binary sends a binary message instead of text.
	Binary bool `json:"binary"`
	// Destination (user send only) is the STOMP user destination the
	// message is for ("/user/queue/NAME"; "/queue/NAME" means the same).
	Destination string `json:"destination"`
}

// DestinationSender is implemented by Backends that can address a user's
// STOMP subscriptions: SendUserTo is SendUser with the destination that
// POST /api/users/{id}/send names.
type DestinationSender interface {
	SendUserTo(ctx context.Context, user, destination string, op frame.Opcode, payload []byte) (recipients int, err error)
}

type publishResponse struct {
	Room       string `json:"room,omitempty"`
	User       string `json:"user,omitempty"`
	Recipients int    `json:"recipients"`
}

type roomInfo struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	// Messages counts the messages published to a room with history in
	// its current epoch (absent for rooms without history).
	Messages *uint64 `json:"messages,omitempty"`
}

// Handler returns the admin API. /api/* requires the API key when one is
// configured; health and metrics endpoints do not (the admin listener
// binds to loopback by default).
func Handler(b Backend, o Options) http.Handler {
	if o.PublishWait <= 0 {
		o.PublishWait = 5 * time.Second
	}
	a := &api{b: b, o: o}
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, a.requireKey(h)) }
	route("POST /api/publish", a.handlePublish)
	route("POST /api/users/{id}/send", a.handleUserSend)
	route("GET /api/rooms", a.handleRooms)
	route("GET /api/stats", a.handleStats)
	route("GET /api/users/{id}", a.handleUser)
	route("GET /api/rooms/{name}/history", a.handleHistory)
	if o.UI != nil && strings.HasPrefix(o.UIPath, "/") && strings.HasSuffix(o.UIPath, "/") && o.UIPath != "/" {
		mux.Handle("GET "+o.UIPath, o.UI)
		mux.Handle("GET "+strings.TrimSuffix(o.UIPath, "/"), o.UI)
	}
	mux.Handle("GET /metrics", b.Metrics())
	if o.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/memstats", a.handleMemStats)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if st, ok := b.(Starter); ok && st.Starting() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		if b.Draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, a.readyBody())
	})
	return mux
}

func (a *api) requireKey(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.o.APIKey != "" {
			got := r.Header.Get("X-API-Key")
			if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				got = b
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(a.o.APIKey)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wsgate"`)
				writeJSONError(w, http.StatusUnauthorized, "missing or wrong API key")
				return
			}
		}
		h(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// readPublish decodes and checks a publish body; it returns the message.
func (a *api) readPublish(w http.ResponseWriter, r *http.Request) (publishRequest, frame.Opcode, []byte, bool) {
	var req publishRequest
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 2*a.o.MaxPayload+4096))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "body too large")
		return req, 0, nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, decodeError(err))
		return req, 0, nil, false
	}
	if dec.More() {
		writeJSONError(w, http.StatusBadRequest, "body must be one JSON object")
		return req, 0, nil, false
	}
	if req.Payload == nil {
		writeJSONError(w, http.StatusBadRequest, `"payload" is required (a string; base64 with "binary":true)`)
		return req, 0, nil, false
	}
	// encoding/json turns invalid UTF-8 and lone surrogate escapes into
	// U+FFFD instead of failing; a text message must not change silently.
	if !utf8.Valid(raw) || strings.Count(*req.Payload, "\uFFFD") > countReplacement(raw) {
		writeJSONError(w, http.StatusBadRequest, "text payload must be UTF-8 (no invalid bytes or lone surrogates)")
		return req, 0, nil, false
	}
	payload := []byte(*req.Payload)
	op := frame.OpText
	if req.Binary {
		op = frame.OpBinary
		var err error
		if payload, err = base64.StdEncoding.DecodeString(*req.Payload); err != nil {
			writeJSONError(w, http.StatusBadRequest, "binary payload must be standard base64")
			return req, 0, nil, false
		}
	} else if !frame.ValidUTF8(payload) {
		writeJSONError(w, http.StatusBadRequest, "text payload must be UTF-8")
		return req, 0, nil, false
	}
	if int64(len(payload)) > a.o.MaxPayload {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "payload over room-max-message")
		return req, 0, nil, false
	}
	return req, op, payload, true
}

func (a *api) handlePublish(w http.ResponseWriter, r *http.Request) {
	req, op, payload, ok := a.readPublish(w, r)
	if !ok {
		return
	}
	if !hub.ValidName(req.Room) {
		writeJSONError(w, http.StatusBadRequest, "room must be 1-128 characters of A-Z a-z 0-9 . _ - : @ ~")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.o.PublishWait)
	defer cancel()
	n, err := a.b.Publish(ctx, req.Room, op, payload)
	if a.failed(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, publishResponse{Room: req.Room, Recipients: n})
}

func (a *api) handleUserSend(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("id")
	req, op, payload, ok := a.readPublish(w, r)
	if !ok {
		return
	}
	if req.Room != "" {
		writeJSONError(w, http.StatusBadRequest, `"room" has no meaning here: the path names the user`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.o.PublishWait)
	defer cancel()
	var n int
	var err error
	if ds, ok := a.b.(DestinationSender); ok && req.Destination != "" {
		n, err = ds.SendUserTo(ctx, user, req.Destination, op, payload)
	} else if req.Destination != "" {
		writeJSONError(w, http.StatusBadRequest, `"destination" needs the STOMP endpoint`)
		return
	} else {
		n, err = a.b.SendUser(ctx, user, op, payload)
	}
	if a.failed(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, publishResponse{User: user, Recipients: n})
}

// decodeError says what is wrong with a publish body in the client's
// terms, without the decoder's package prefix.
func decodeError(err error) string {
	msg := "body must be one JSON object {room, payload, binary}"
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return msg + ": " + te.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return msg + ": unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return msg
}

// failed answers a Backend error, if any.
func (a *api) failed(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrDraining):
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, "draining")
	case errors.Is(err, ErrBadDestination):
		writeJSONError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrOverloaded):
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, "fan-out queue full")
	default:
		writeJSONError(w, http.StatusInternalServerError, err.Error())
	}
	return true
}

func (a *api) handleRooms(w http.ResponseWriter, r *http.Request) {
	if a.clusterScope(w, r, ClusterBackend.ClusterRooms) {
		return
	}
	rooms := []roomInfo{}
	var counts map[string]uint64
	if hb, ok := a.b.(HistoryBackend); ok {
		ctx, cancel := context.WithTimeout(r.Context(), a.o.PublishWait)
		counts, _ = hb.RoomMessages(ctx) // without them the rows just lack "messages"
		cancel()
	}
	a.b.Rooms(func(name string, members int) bool {
		ri := roomInfo{Name: name, Members: members}
		if n, ok := counts[name]; ok {
			ri.Messages = &n
		}
		rooms = append(rooms, ri)
		return true
	})
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].Name < rooms[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rooms})
}

func (a *api) handleStats(w http.ResponseWriter, r *http.Request) {
	if a.clusterScope(w, r, ClusterBackend.ClusterStats) {
		return
	}
	writeJSON(w, http.StatusOK, a.b.Stats())
}

// countReplacement counts U+FFFD written in a JSON document, literally or
// as a \ufffd escape.
func countReplacement(raw []byte) int {
	n := strings.Count(string(raw), "\uFFFD")
	low := strings.ToLower(string(raw))
	return n + strings.Count(low, `\ufffd`)
}

// memStats is the answer of /debug/memstats: runtime.MemStats figures
// (bytes), named as bench/floor's stats hook names them.
type memStats struct {
	Conns        int64  `json:"conns"`
	HeapAlloc    uint64 `json:"heap_alloc"`
	HeapInuse    uint64 `json:"heap_inuse"`
	HeapIdle     uint64 `json:"heap_idle"`
	HeapReleased uint64 `json:"heap_released"`
	StackInuse   uint64 `json:"stack_inuse"`
	GCSys        uint64 `json:"gc_sys"`
	Sys          uint64 `json:"sys"`
	NumGC        uint32 `json:"num_gc"`
	Goroutines   int    `json:"goroutines"`
}

// handleMemStats reports the Go runtime's memory figures; with ?gc=1 it
// first runs a garbage collection, so heap_inuse is the live heap (what an
// idle connection really holds). It allocates little, so reading it does
// not disturb what it measures. Served with -pprof only: a collection
// stops the world briefly.
func (a *api) handleMemStats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeJSON(w, http.StatusOK, memStats{
		Conns: a.b.OpenConns(), HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse, HeapIdle: ms.HeapIdle,
		HeapReleased: ms.HeapReleased, StackInuse: ms.StackInuse, GCSys: ms.GCSys, Sys: ms.Sys,
		NumGC: ms.NumGC, Goroutines: runtime.NumGoroutine(),
	})
}

// Starter is what a Backend adds when the API may answer before the
// gateway accepts connections: /readyz says 503 "starting" until then, so
// that no load balancer sends clients to a listener not yet open.
type Starter interface {
	// Starting reports whether the gateway's listeners are not open yet.
	Starting() bool
}
