package loadtest

import (
	"bytes"
	"encoding/json"
)

// errorMessage is the part of a server's error message that wsload reads:
// wsgate (and servers like it) answer a refused message with a text
// message such as {"type":"error","code":"rate_limited","message":"..."}.
type errorMessage struct {
	Type string `json:"type"`
	Code string `json:"code"`
}

// serverErrorCode returns the code of a server error message, "unknown"
// for one without a code, and "" when p is not an error message. It is
// called only for messages that failed wsload's own checks, so it may
// allocate.
func serverErrorCode(p []byte) string {
	t := bytes.TrimSpace(p)
	if len(t) == 0 || t[0] != '{' || !bytes.Contains(t, []byte(`"error"`)) {
		return ""
	}
	var m errorMessage
	if json.Unmarshal(t, &m) != nil || m.Type != "error" {
		return ""
	}
	if m.Code == "" {
		return "unknown"
	}
	if len(m.Code) > 64 {
		m.Code = m.Code[:64]
	}
	return m.Code
}
