// Package stompproto is wsgate's STOMP endpoint: STOMP 1.2 (and 1.1, 1.0)
// over WebSocket, as @stomp/stompjs and Spring's STOMP support speak it,
// built on the protocol seam (one Protocol value registered for a path)
// and the fan-out seam (every subscription is a fanout.Subscriber of its
// own). Frames are parsed and encoded by package stomp, which knows
// nothing of sockets; this package is the session logic.
//
// Destinations:
//
//   - /topic/NAME is publish-subscribe over the room NAME ("/" in NAME
//     becomes ".": /topic/chat/a is room chat.a), shared with /room/NAME,
//     /ws and the admin API.
//   - /queue/NAME holds competing consumers: each message goes to one
//     subscriber, round robin; with ack:client or client-individual an
//     unacknowledged message goes to another consumer when its consumer
//     NACKs it or leaves. Messages wait, bounded, while no consumer has
//     room.
//   - /user/queue/NAME and /user/topic/NAME are private to the session's
//     user: every session of the user subscribed to the destination gets
//     what is sent to /user/ID/queue/NAME (a SEND or the admin API).
//   - /app/... is forwarded to the application backend over HTTP.
//
// A topic message is encoded once per fan-out: the tail of the MESSAGE
// frame (message-id, content-type, content-length, body) is a fan-out
// format built at first use and shared by reference. The head in front of
// it (WebSocket frame header for head+tail, MESSAGE, destination,
// subscription) depends only on the subscription's key, its interned head
// prefix, so each fan-out worker builds one head per key and message and
// the subscriptions sharing the key queue it by reference; for a small
// message the worker joins head and tail into one frame once a second
// subscription of the key takes it. Subscriptions with an ack header and
// /queue deliveries get heads of their own, queued with the tail as a
// pair and written with writev. Nothing is allocated per delivery.
//
// Memory: an idle session is a 96-byte session and a 32-byte sub per
// subscription; the prefix is shared by every subscription alike, and
// what few sessions need (identity, transactions, the last destination
// sent to) is allocated on first use.
//
// Concurrency: Message and the frame handlers run on the connection's
// event loop; Tick on the timer wheel; subscription delivery on fan-out
// workers; /app forwards on their own bounded pool. A session's
// subscription list is guarded by its lock (one of the protocol's) for the
// readers off the loop.
package stompproto
