package server

import "github.com/wsgate/wsgate/frame"

// closeReason says why a connection ended. It feeds the close frame's
// code, the wsgate_connections_closed_total{reason} metric and the log.
type closeReason uint32

const (
	reasonNone             closeReason = iota
	reasonPeerClose                    // the client sent a close frame
	reasonPeerGone                     // TCP ended without a close handshake
	reasonProtocolError                // 1002
	reasonInvalidPayload               // 1007
	reasonTooBig                       // 1009
	reasonIdle                         // idle timeout, 1001
	reasonHandshakeTimeout             // no complete request in time
	reasonRejected                     // handshake answered with an HTTP error
	reasonSlowConsumer                 // queue over its limit, policy close: 1008
	reasonWriteTimeout                 // socket refused bytes for the write timeout
	reasonCloseTimeout                 // the peer never answered our close frame
	reasonShutdown                     // server shutdown: 1001 or 1012
	reasonPolicy                       // a policy limit (rate, permission): 1008
	reasonTokenExpired                 // 4001
	reasonUnsupportedData              // 1003: a binary message on /ws
	reasonOverloaded                   // 1013: a publish met a full fan-out queue
	reasonHTTP                         // a plain HTTP request answered (dev-mode demo pages)
	reasonHandshakeShed                // closed mid-handshake to make room for newer ones
	numReasons
)

var reasonNames = [numReasons]string{
	reasonNone:             "unknown",
	reasonPeerClose:        "peer_close",
	reasonPeerGone:         "peer_gone",
	reasonProtocolError:    "protocol_error",
	reasonInvalidPayload:   "invalid_payload",
	reasonTooBig:           "message_too_big",
	reasonIdle:             "idle_timeout",
	reasonHandshakeTimeout: "handshake_timeout",
	reasonRejected:         "handshake_rejected",
	reasonSlowConsumer:     "slow_consumer",
	reasonWriteTimeout:     "write_timeout",
	reasonCloseTimeout:     "close_timeout",
	reasonShutdown:         "shutdown",
	reasonPolicy:           "policy_violation",
	reasonTokenExpired:     "token_expired",
	reasonUnsupportedData:  "unsupported_data",
	reasonOverloaded:       "overloaded",
	reasonHTTP:             "http_served",
	reasonHandshakeShed:    "handshake_shed",
}

func (r closeReason) String() string { return reasonNames[r] }

// reasonForCode maps a protocol error's close code to a reason.
func reasonForCode(code frame.CloseCode) closeReason {
	switch code {
	case frame.CloseInvalidPayload:
		return reasonInvalidPayload
	case frame.CloseMessageTooBig:
		return reasonTooBig
	case frame.ClosePolicyViolation:
		return reasonPolicy
	case frame.CloseUnsupportedData:
		return reasonUnsupportedData
	case frame.CloseTryAgainLater:
		return reasonOverloaded
	}
	return reasonProtocolError
}

// hsResult is a handshake's outcome, for wsgate_handshakes_total{result}.
type hsResult uint8

const (
	hsOK hsResult = iota
	hsBadRequest
	hsMethod
	hsNotFound
	hsForbidden
	hsVersion
	hsTooLarge
	hsTimeout
	hsUnavailable
	hsUnauthorized
	hsTooMany
	hsShed
	numHSResults
)

var hsResultNames = [numHSResults]string{
	hsOK:           "ok",
	hsBadRequest:   "bad_request",
	hsMethod:       "method_not_allowed",
	hsNotFound:     "not_found",
	hsForbidden:    "forbidden",
	hsVersion:      "upgrade_required",
	hsTooLarge:     "header_too_large",
	hsTimeout:      "timeout",
	hsUnavailable:  "unavailable",
	hsUnauthorized: "unauthorized",
	hsTooMany:      "too_many",
	hsShed:         "shed",
}

func hsResultForStatus(status int) hsResult {
	switch status {
	case 405:
		return hsMethod
	case 404:
		return hsNotFound
	case 403:
		return hsForbidden
	case 426:
		return hsVersion
	case 431:
		return hsTooLarge
	case 503:
		return hsUnavailable
	case 401:
		return hsUnauthorized
	case 429:
		return hsTooMany
	}
	return hsBadRequest
}
