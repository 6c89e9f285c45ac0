package admin

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wsgate/wsgate/internal/hub"
)

// HistoryBackend is what a Backend whose rooms may keep history adds:
// GET /api/rooms/{name}/history and the "messages" of /api/rooms rows.
type HistoryBackend interface {
	// History returns up to limit of room's messages after offset after;
	// ok is false when the room keeps no history. Errors are those of
	// Publish (ErrDraining, ErrOverloaded).
	History(ctx context.Context, room string, after uint64, limit int) (page HistoryPage, ok bool, err error)
	// RoomMessages returns, per room with history, the messages published
	// in its current epoch (the latest offset).
	RoomMessages(ctx context.Context) (map[string]uint64, error)
}

// HistoryPage is the answer of GET /api/rooms/{name}/history.
type HistoryPage struct {
	Room string `json:"room"`
	// Epoch names the room's history; "" when it has none yet.
	Epoch string `json:"epoch"`
	// First is the oldest offset kept (0: none is), Last the latest
	// offset published.
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	// Complete is false when messages after since were dropped (by count,
	// age or the memory cap) before this read.
	Complete bool             `json:"complete"`
	Messages []HistoryMessage `json:"messages"`
}

// HistoryMessage is one message of a HistoryPage, written as POST
// /api/publish takes it: text as it is, binary in base64 with "binary".
type HistoryMessage struct {
	Offset  uint64    `json:"offset"`
	Time    time.Time `json:"time"`
	Payload string    `json:"payload"`
	Binary  bool      `json:"binary,omitempty"`
	From    string    `json:"from,omitempty"`
}

// TextPayload sets m's payload from raw bytes: text as it is, binary (or
// text that is not UTF-8, which a text message never is) in base64.
func (m *HistoryMessage) TextPayload(p []byte, binary bool) {
	if binary || !utf8.Valid(p) {
		m.Payload, m.Binary = base64.StdEncoding.EncodeToString(p), true
		return
	}
	m.Payload = string(p)
}

// History page sizes.
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 1000
)

// handleHistory serves GET /api/rooms/{name}/history?since=N&limit=M: up
// to M (default 100, at most 1000) of the room's messages after offset N
// (default 0: from the oldest kept).
func (a *api) handleHistory(w http.ResponseWriter, r *http.Request) {
	room := r.PathValue("name")
	if !hub.ValidName(room) {
		writeJSONError(w, http.StatusBadRequest, "room must be 1-128 characters of A-Z a-z 0-9 . _ - : @ ~")
		return
	}
	q := r.URL.Query()
	var since uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, "since must be an offset (a whole number)")
			return
		}
		since = n
	}
	limit := defaultHistoryLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryLimit {
			writeJSONError(w, http.StatusBadRequest, "limit must be between 1 and 1000")
			return
		}
		limit = n
	}
	hb, ok := a.b.(HistoryBackend)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "this server keeps no room history")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.o.PublishWait)
	defer cancel()
	page, ok, err := hb.History(ctx, room, since, limit)
	if a.failed(w, err) {
		return
	}
	if !ok {
		writeJSONError(w, http.StatusNotFound, "room keeps no history (see -history)")
		return
	}
	if page.Messages == nil {
		page.Messages = []HistoryMessage{}
	}
	page.Room = room
	writeJSON(w, http.StatusOK, page)
}
