package admin

import (
	"context"
	"errors"
	"net/http"
)

// ClusterBackend is what a Backend adds when its node can see a cluster
// (or says that it is alone). The API uses it when the Backend implements
// it: ?scope=cluster on GET /api/rooms and GET /api/stats, GET
// /api/users/{id}, and the degraded note of /readyz.
type ClusterBackend interface {
	// ClusterRooms returns every room of the cluster with its members
	// added up over the nodes that answered, as a JSON-encodable value.
	ClusterRooms(ctx context.Context) (any, error)
	// ClusterStats returns every node's counters and their totals.
	ClusterStats(ctx context.Context) (any, error)
	// UserPresence returns on how many connections and nodes user is
	// online.
	UserPresence(ctx context.Context, user string) (any, error)
	// Degraded returns why the node reaches only its own members ("" when
	// it is alone by design or reaches its cluster). Readiness stays true
	// while degraded: the node still serves its clients.
	Degraded() string
}

// Scopes of a listing: this node, or every node of the cluster.
const (
	ScopeLocal   = "local"
	ScopeCluster = "cluster"
)

// errScope is the answer to a ?scope= that is neither local nor cluster.
var errScope = errors.New(`scope must be "local" or "cluster"`)

// clusterScope serves a ?scope=cluster request with view and reports
// whether it did (or answered an error); a local request is left to the
// caller.
func (a *api) clusterScope(w http.ResponseWriter, r *http.Request, view func(ClusterBackend, context.Context) (any, error)) bool {
	switch r.URL.Query().Get("scope") {
	case "", ScopeLocal:
		return false
	case ScopeCluster:
	default:
		writeJSONError(w, http.StatusBadRequest, errScope.Error())
		return true
	}
	cb, ok := a.b.(ClusterBackend)
	if !ok {
		return false // a node on its own: its view is the cluster's
	}
	v, err := view(cb, r.Context())
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		return true
	}
	writeJSON(w, http.StatusOK, v)
	return true
}

// handleUser answers GET /api/users/{id}: the user's connections and
// nodes.
func (a *api) handleUser(w http.ResponseWriter, r *http.Request) {
	cb, ok := a.b.(ClusterBackend)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "user presence is not available")
		return
	}
	v, err := cb.UserPresence(r.Context(), r.PathValue("id"))
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// readyBody is the body of a ready /readyz: "ready", and why the node is
// degraded when it is.
func (a *api) readyBody() string {
	if cb, ok := a.b.(ClusterBackend); ok {
		if why := cb.Degraded(); why != "" {
			return "ready (degraded: " + why + ")\n"
		}
	}
	return "ready\n"
}
