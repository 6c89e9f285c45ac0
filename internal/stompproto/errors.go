package stompproto

import (
	"strconv"

	"github.com/wsgate/wsgate/internal/stomp"
)

// errReason says why an ERROR frame was sent: the label of
// wsgate_stomp_errors_total{reason}. The parser's codes come first, with
// their own names.
type errReason uint8

// maxCodecCode bounds the parser's error codes (stomp.Code values).
const maxCodecCode = 16

const (
	errNotConnected   errReason = maxCodecCode + iota // a frame before CONNECT
	errProtocol                                       // a frame out of place
	errAuth                                           // a bad token, or none where one is required
	errForbidden                                      // the token's patterns refuse the destination
	errDestination                                    // unknown or malformed destination
	errSubscription                                   // bad, duplicate or unknown subscription id
	errTooManySubs                                    // over -stomp-max-subscriptions
	errTransaction                                    // bad, unknown or oversized transaction
	errOverloaded                                     // a full fan-out queue
	errApp                                            // SEND to /app without a backend
	errConnectTimeout                                 // no CONNECT in time
	errHeartBeat                                      // heart-beats stopped
	numReasons
)

var ownReasonNames = [...]string{
	errNotConnected - maxCodecCode:   "not_connected",
	errProtocol - maxCodecCode:       "protocol",
	errAuth - maxCodecCode:           "auth",
	errForbidden - maxCodecCode:      "forbidden",
	errDestination - maxCodecCode:    "destination",
	errSubscription - maxCodecCode:   "subscription",
	errTooManySubs - maxCodecCode:    "too_many_subscriptions",
	errTransaction - maxCodecCode:    "transaction",
	errOverloaded - maxCodecCode:     "overloaded",
	errApp - maxCodecCode:            "app_disabled",
	errConnectTimeout - maxCodecCode: "connect_timeout",
	errHeartBeat - maxCodecCode:      "heartbeat_timeout",
}

// ReasonNames returns the label values of wsgate_stomp_errors_total in
// reason order, for metrics.NewStomp.
func ReasonNames() []string {
	names := make([]string, numReasons)
	for i := range maxCodecCode {
		names[i] = stomp.Code(i).String()
		if names[i] == "unknown" {
			names[i] = "code_" + strconv.Itoa(i) // unused codes keep distinct labels
		}
	}
	for i, n := range ownReasonNames {
		names[maxCodecCode+i] = n
	}
	return names
}

// reasonOfCode maps a parser error code to its reason.
func reasonOfCode(c stomp.Code) errReason {
	if int(c) < maxCodecCode {
		return errReason(c)
	}
	return 0
}
