package server

import (
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
)

// publishRequest is the body of POST /api/publish and
// POST /api/users/{id}/send.
type publishRequest struct {
	// Room names the room (publish only).
	Room string `json:"room"`
	// Payload is the message; for binary messages, standard base64.
	Payload string `json:"payload"`
	// Binary sends a binary message instead of text.
	Binary bool `json:"binary"`
}

type publishResponse struct {
	Room       string `json:"room,omitempty"`
	User       string `json:"user,omitempty"`
	Recipients int    `json:"recipients"`
}

type roomInfo struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// adminHandler serves the admin API. /api/* requires the API key when one
// is configured; health and metrics endpoints do not (the admin listener
// binds to loopback by default).
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.requireKey(h)) }
	api("POST /api/publish", s.handlePublish)
	api("POST /api/users/{id}/send", s.handleUserSend)
	api("GET /api/rooms", s.handleRooms)
	api("GET /api/stats", s.handleStats)
	mux.Handle("GET /metrics", s.m.Handler())
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/memstats", s.handleMemStats)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

func (s *Server) requireKey(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.apiKey != "" {
			got := r.Header.Get("X-API-Key")
			if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				got = b
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(s.apiKey)) != 1 {
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

// readPublish decodes and checks a publish body and frames the message
// once into a shared buffer, returned as a job without its target.
func (s *Server) readPublish(w http.ResponseWriter, r *http.Request) (publishRequest, job, bool) {
	var req publishRequest
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 2*s.cfg.RoomMessageLimit()+4096))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "body too large")
		return req, job{}, false
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		msg := "body must be a JSON object {room, payload, binary}"
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && te.Field != "" {
			msg += ": " + te.Field + " has the wrong type"
		}
		writeJSONError(w, http.StatusBadRequest, msg)
		return req, job{}, false
	}
	// encoding/json turns invalid UTF-8 and lone surrogate escapes into
	// U+FFFD instead of failing; a text message must not change silently.
	if !utf8.Valid(raw) || strings.Count(req.Payload, "\uFFFD") > countReplacement(raw) {
		writeJSONError(w, http.StatusBadRequest, "text payload must be UTF-8 (no invalid bytes or lone surrogates)")
		return req, job{}, false
	}
	payload := []byte(req.Payload)
	op := frame.OpText
	if req.Binary {
		op = frame.OpBinary
		var err error
		if payload, err = base64.StdEncoding.DecodeString(req.Payload); err != nil {
			writeJSONError(w, http.StatusBadRequest, "binary payload must be standard base64")
			return req, job{}, false
		}
	} else if !frame.ValidUTF8(payload) {
		writeJSONError(w, http.StatusBadRequest, "text payload must be UTF-8")
		return req, job{}, false
	}
	if int64(len(payload)) > s.cfg.RoomMessageLimit() {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "payload over room-max-message")
		return req, job{}, false
	}
	b, hdr := frameBuf(0, op, payload)
	return req, job{buf: b, hdr: hdr, op: op}, true
}

func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	req, j, ok := s.readPublish(w, r)
	if !ok {
		return
	}
	if !validName(req.Room) {
		j.buf.Release()
		writeJSONError(w, http.StatusBadRequest, "room must be 1-128 characters of A-Z a-z 0-9 . _ - : @ ~")
		return
	}
	n := s.hub.Count(req.Room)
	j.room = req.Room
	if !s.submitAdmin(w, r, req.Room, j) {
		return
	}
	writeJSON(w, http.StatusOK, publishResponse{Room: req.Room, Recipients: n})
}

func (s *Server) handleUserSend(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("id")
	_, j, ok := s.readPublish(w, r)
	if !ok {
		return
	}
	n := s.hub.CountUser(user)
	j.user = user
	if !s.submitAdmin(w, r, "user:"+user, j) {
		return
	}
	writeJSON(w, http.StatusOK, publishResponse{User: user, Recipients: n})
}

func (s *Server) submitAdmin(w http.ResponseWriter, r *http.Request, key string, j job) bool {
	if s.draining.Load() {
		j.buf.Release()
		writeJSONError(w, http.StatusServiceUnavailable, "draining")
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.workers.submitCtx(ctx, key, j); err != nil {
		j.buf.Release()
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, "fan-out queue full")
		return false
	}
	return true
}

func (s *Server) handleRooms(w http.ResponseWriter, r *http.Request) {
	rooms := []roomInfo{}
	s.hub.Rooms(func(name string, members int) bool {
		rooms = append(rooms, roomInfo{Name: name, Members: members})
		return true
	})
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].Name < rooms[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rooms})
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// validName reports whether a room name is acceptable: 1-128 characters
// from a conservative set that needs no escaping in paths or logs.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '~':
		default:
			return false
		}
	}
	return true
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
func (s *Server) handleMemStats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeJSON(w, http.StatusOK, memStats{
		Conns: s.open.Load(), HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse, HeapIdle: ms.HeapIdle,
		HeapReleased: ms.HeapReleased, StackInuse: ms.StackInuse, GCSys: ms.GCSys, Sys: ms.Sys,
		NumGC: ms.NumGC, Goroutines: runtime.NumGoroutine(),
	})
}
