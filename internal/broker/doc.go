// Package broker carries wsgate's messages between nodes. One node serves
// its own room members and user connections itself; the broker reaches
// the members on other nodes.
//
// Broker is the seam. Local is the broker of a node that runs alone: room
// and user publishes go nowhere, interest calls cost nothing, queue
// messages loop back to the node's own queue subscribers. NATS rides a
// NATS cluster through nats.go; StartEmbedded runs a NATS server inside
// the process, so wsgate hosts can form a cluster with no other service.
// New picks one by whether Options names NATS servers.
//
// # Using it
//
// The server delivers a message to its local members first and then calls
// Publish, so local members never wait on the network. It calls Subscribe
// when a connection joins a room (or a user's connection opens) and
// Unsubscribe when it leaves; the broker counts, and the node receives a
// room's messages from other nodes while its count is above zero (plus a
// grace period). Messages from other nodes reach Options.Handler, which
// delivers them to the local members. Gather and Presence give cluster
// views for the admin API; State gives the connection state and the
// counters for metrics. QueueSubscribe and Kind Queue messages make
// competing consumers across nodes (STOMP's /queue destinations).
//
// NATS also offers Sync (wait until interest changes reached the NATS
// server), Interest (one name's local count) and Peers (the other nodes
// known to be up), and History: the JetStream stream that holds the
// messages of rooms with history for the whole cluster, republished to
// the room subjects with their stream positions.
//
// # Messages on the wire
//
// A Message is encoded by AppendMessage into a caller's buffer and parsed
// by Decode without copying: version, kind, flags (Binary, JSON), the
// origin's sequence number, then the origin node, the publisher and the
// target, each length-prefixed, optional fields that older decoders
// skip, and the payload. A node never delivers its own room or user
// message: the NATS server does not echo it (NoEcho), and a message whose
// origin is the node itself is dropped on receipt anyway. Nor does it
// deliver another node's message twice or out of order: the sequence
// number lets it drop what arrives late (see NATS, Order).
//
// # Subjects
//
// A room is <prefix>.r.<name>, a user <prefix>.u.<name>, a queue
// <prefix>.q.<name>, with the name escaped reversibly but kept readable
// (EscapeName): room chat.a is wsgate.r.chat.a.
package broker
