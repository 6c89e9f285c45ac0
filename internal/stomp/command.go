package stomp

// Command is a STOMP frame command. The zero value is not a valid command.
type Command uint8

// The STOMP 1.2 commands. Clients send CONNECT (or its alias STOMP), SEND,
// SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT, ABORT and DISCONNECT;
// servers send CONNECTED, MESSAGE, RECEIPT and ERROR.
const (
	CmdConnect Command = iota + 1
	CmdStomp
	CmdConnected
	CmdSend
	CmdSubscribe
	CmdUnsubscribe
	CmdAck
	CmdNack
	CmdBegin
	CmdCommit
	CmdAbort
	CmdDisconnect
	CmdMessage
	CmdReceipt
	CmdError
)

// numCommands is one more than the largest Command.
const numCommands = int(CmdError) + 1

// commandNames holds each command's wire form, indexed by Command.
var commandNames = [numCommands]string{
	CmdConnect:     "CONNECT",
	CmdStomp:       "STOMP",
	CmdConnected:   "CONNECTED",
	CmdSend:        "SEND",
	CmdSubscribe:   "SUBSCRIBE",
	CmdUnsubscribe: "UNSUBSCRIBE",
	CmdAck:         "ACK",
	CmdNack:        "NACK",
	CmdBegin:       "BEGIN",
	CmdCommit:      "COMMIT",
	CmdAbort:       "ABORT",
	CmdDisconnect:  "DISCONNECT",
	CmdMessage:     "MESSAGE",
	CmdReceipt:     "RECEIPT",
	CmdError:       "ERROR",
}

// String returns the command as it appears on the wire ("SEND"), or
// "INVALID" for a value that is not a command.
func (c Command) String() string {
	if !c.Valid() {
		return "INVALID"
	}
	return commandNames[c]
}

// Valid reports whether c is one of the fifteen STOMP commands.
func (c Command) Valid() bool { return c > 0 && int(c) < numCommands }

// FromClient reports whether c is a command clients send: CONNECT, STOMP,
// SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT, ABORT, DISCONNECT.
// The parser accepts every command; a server rejects the others itself.
func (c Command) FromClient() bool {
	return c.Valid() && c != CmdConnected && c != CmdMessage && c != CmdReceipt && c != CmdError
}

// AllowsBody reports whether a frame with command c may carry a body: only
// SEND, MESSAGE and ERROR may. The parser rejects a body on any other frame
// (ErrUnexpectedBody), and AppendFrame adds content-length only to these.
func (c Command) AllowsBody() bool { return c == CmdSend || c == CmdMessage || c == CmdError }

// Escaped reports whether header names and values of frames with command c
// use STOMP escaping (\r \n \c \\). CONNECT and CONNECTED do not, for
// compatibility with STOMP 1.0; neither does STOMP, which is CONNECT under
// another name and, like it, is sent before any version is agreed.
func (c Command) Escaped() bool { return c != CmdConnect && c != CmdStomp && c != CmdConnected }

// lookupCommand returns the command spelled by b, or 0. Commands are case
// sensitive.
func lookupCommand(b []byte) Command {
	switch string(b) { // the conversion does not allocate in a switch
	case "SEND":
		return CmdSend
	case "MESSAGE":
		return CmdMessage
	case "ACK":
		return CmdAck
	case "SUBSCRIBE":
		return CmdSubscribe
	case "UNSUBSCRIBE":
		return CmdUnsubscribe
	case "NACK":
		return CmdNack
	case "CONNECT":
		return CmdConnect
	case "STOMP":
		return CmdStomp
	case "CONNECTED":
		return CmdConnected
	case "BEGIN":
		return CmdBegin
	case "COMMIT":
		return CmdCommit
	case "ABORT":
		return CmdAbort
	case "DISCONNECT":
		return CmdDisconnect
	case "RECEIPT":
		return CmdReceipt
	case "ERROR":
		return CmdError
	}
	return 0
}
