package stompproto

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/stomp"
)

// Transaction bounds: open transactions per session, frames and body
// bytes held per transaction.
const (
	maxTransactions = 16
	maxTxFrames     = 1024
	maxTxBytes      = 4 << 20
)

// transaction holds a session's SENDs, ACKs and NACKs between BEGIN and
// COMMIT (which applies them in order) or ABORT (which drops them).
type transaction struct {
	held  []heldFrame
	bytes int
}

// heldFrame is a copy of a SEND, ACK or NACK held in a transaction.
type heldFrame struct {
	cmd   stomp.Command
	dest  string // SEND
	ctype []byte // SEND
	body  []byte // SEND
	id    []byte // ACK, NACK
}

// onTransaction handles BEGIN, COMMIT and ABORT.
func (s *session) onTransaction(f *stomp.Frame) {
	rid := receiptOf(f)
	name := f.Headers.Get(stomp.HeaderTransaction)
	if len(name) == 0 {
		s.fail(errTransaction, f.Command.String()+" without transaction header", rid, frame.CloseProtocolError)
		return
	}
	var tx *transaction
	if x := s.x.Load(); x != nil {
		tx = x.tx[string(name)]
	}
	switch f.Command {
	case stomp.CmdBegin:
		if tx != nil {
			s.fail(errTransaction, "transaction "+string(name)+" already begun", rid, frame.CloseProtocolError)
			return
		}
		x := s.more()
		if len(x.tx) >= maxTransactions {
			s.fail(errTransaction, "too many open transactions", rid, frame.ClosePolicyViolation)
			return
		}
		if x.tx == nil {
			x.tx = make(map[string]*transaction)
		}
		x.tx[string(name)] = &transaction{}
	case stomp.CmdCommit, stomp.CmdAbort:
		if tx == nil {
			s.fail(errTransaction, "no transaction "+string(name), rid, frame.CloseProtocolError)
			return
		}
		delete(s.x.Load().tx, string(name))
		if f.Command == stomp.CmdCommit && !s.commit(tx, rid) {
			return
		}
	}
	s.receipt(f)
}

// hold keeps a copy of a SEND, ACK or NACK for its transaction.
func (s *session) hold(f *stomp.Frame, name []byte) {
	rid := receiptOf(f)
	var tx *transaction
	if x := s.x.Load(); x != nil {
		tx = x.tx[string(name)]
	}
	if tx == nil {
		s.fail(errTransaction, "no transaction "+string(name), rid, frame.CloseProtocolError)
		return
	}
	h := heldFrame{cmd: f.Command}
	size := 0
	if f.Command == stomp.CmdSend {
		h.dest = string(f.Headers.Get(stomp.HeaderDestination))
		h.ctype = clone(f.Headers.Get(stomp.HeaderContentType))
		h.body = clone(f.Body)
		size = len(h.body) + len(h.dest)
	} else {
		id := f.Headers.Get(stomp.HeaderID)
		if s.ver != stomp.V12 || id == nil {
			id = f.Headers.Get(stomp.HeaderMessageID)
		}
		h.id = clone(id)
	}
	if len(tx.held) >= maxTxFrames || tx.bytes+size > maxTxBytes {
		s.fail(errTransaction, "transaction "+string(name)+" holds too much: commit sooner", rid, frame.ClosePolicyViolation)
		return
	}
	tx.held = append(tx.held, h)
	tx.bytes += size
	s.receipt(f)
}

// commit applies a transaction's frames in order; false when one failed
// the session.
func (s *session) commit(tx *transaction, rid []byte) bool {
	for i := range tx.held {
		h := &tx.held[i]
		if h.cmd != stomp.CmdSend {
			s.ack(h.id, h.cmd == stomp.CmdNack)
			continue
		}
		if !s.route(outgoing{dest: h.dest, ctype: h.ctype, body: h.body}, rid) {
			return false
		}
	}
	return true
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
