package stomp

// Code classifies an *Error: a stable, short name for logs and metric
// labels (see Code.String), where the error's text is for people.
type Code uint8

// Error codes, one per kind of problem.
const (
	CodeBadCommand       Code = iota + 1 // unknown command, or a stray CR before one
	CodeBadHeader                        // header line without a colon or with an empty name
	CodeBadEscape                        // undefined escape sequence in a header
	CodeHeaderTooLong                    // line over Limits.MaxHeaderLine
	CodeTooManyHeaders                   // more than Limits.MaxHeaders header lines
	CodeTooLarge                         // frame over Limits.MaxFrame
	CodeBodyTooLarge                     // body over Limits.MaxBody
	CodeBadContentLength                 // content-length that is not a decimal number
	CodeMissingNUL                       // no NUL right after a content-length body
	CodeUnexpectedBody                   // body on a frame other than SEND, MESSAGE, ERROR
	CodeBadVersion                       // no common protocol version
	CodeBadHeartBeat                     // malformed heart-beat header
	CodeParserFailed                     // Parser used after an error (a caller bug)
	numCodes
)

var codeNames = [numCodes]string{
	CodeBadCommand:       "bad_command",
	CodeBadHeader:        "bad_header",
	CodeBadEscape:        "bad_escape",
	CodeHeaderTooLong:    "header_too_long",
	CodeTooManyHeaders:   "too_many_headers",
	CodeTooLarge:         "too_large",
	CodeBodyTooLarge:     "body_too_large",
	CodeBadContentLength: "bad_content_length",
	CodeMissingNUL:       "missing_nul",
	CodeUnexpectedBody:   "unexpected_body",
	CodeBadVersion:       "bad_version",
	CodeBadHeartBeat:     "bad_heart_beat",
	CodeParserFailed:     "parser_failed",
}

// String returns the code's snake_case name ("too_large"), suitable as a
// metric label, or "unknown".
func (c Code) String() string {
	if c == 0 || c >= numCodes {
		return "unknown"
	}
	return codeNames[c]
}

// Error is a malformed frame, a frame over a limit, or a bad negotiation
// header. Callers match it with errors.As and answer with an ERROR frame
// whose message header is Reason():
//
//	var se *stomp.Error
//	if errors.As(err, &se) { out = stomp.AppendError(out, se.Reason(), nil, nil) }
//
// The package returns only the sentinel values below, so == works too.
type Error struct {
	Code Code   // kind of problem, for metrics
	msg  string // "stomp: " + reason
}

// errPrefix starts every Error message.
const errPrefix = "stomp: "

// Error returns the message, prefixed with "stomp: ".
func (e *Error) Error() string { return e.msg }

// Reason returns the message without the "stomp: " prefix: a short phrase
// for an ERROR frame's message header.
func (e *Error) Reason() string { return e.msg[len(errPrefix):] }

// Errors of the frame parser.
var (
	// ErrBadCommand: the command line is not one of the STOMP commands.
	ErrBadCommand = &Error{CodeBadCommand, "stomp: unknown command"}
	// ErrStrayCR: a carriage return between frames not followed by a line
	// feed.
	ErrStrayCR = &Error{CodeBadCommand, "stomp: carriage return without line feed"}
	// ErrBadHeader: a header line without a colon, or with an empty name.
	ErrBadHeader = &Error{CodeBadHeader, "stomp: malformed header line"}
	// ErrBadEscape: a backslash not followed by r, n, c or a backslash (or by
	// r in STOMP 1.1), or at the end of a header name or value.
	ErrBadEscape = &Error{CodeBadEscape, "stomp: undefined escape sequence in header"}
	// ErrHeaderTooLong: a command or header line longer than
	// Limits.MaxHeaderLine.
	ErrHeaderTooLong = &Error{CodeHeaderTooLong, "stomp: header line too long"}
	// ErrTooManyHeaders: more header lines than Limits.MaxHeaders.
	ErrTooManyHeaders = &Error{CodeTooManyHeaders, "stomp: too many headers"}
	// ErrFrameTooLarge: a frame longer than Limits.MaxFrame.
	ErrFrameTooLarge = &Error{CodeTooLarge, "stomp: frame too large"}
	// ErrBodyTooLarge: a body longer than Limits.MaxBody (or a content-length
	// too large to represent).
	ErrBodyTooLarge = &Error{CodeBodyTooLarge, "stomp: body too large"}
	// ErrBadContentLength: a content-length value that is not a decimal
	// number, or a nonzero one on a frame that ends where a header line
	// should start.
	ErrBadContentLength = &Error{CodeBadContentLength, "stomp: invalid content-length"}
	// ErrMissingNUL: the byte after a content-length body is not NUL.
	ErrMissingNUL = &Error{CodeMissingNUL, "stomp: body not terminated by NUL"}
	// ErrUnexpectedBody: a body on a frame other than SEND, MESSAGE or ERROR.
	ErrUnexpectedBody = &Error{CodeUnexpectedBody, "stomp: frame must not have a body"}
	// ErrParserFailed: Feed called after it returned an error, or after
	// Release without a new Init.
	ErrParserFailed = &Error{CodeParserFailed, "stomp: parser used after an error"}
)

// Errors of the negotiation helpers.
var (
	// ErrNoCommonVersion: accept-version lists none of 1.0, 1.1, 1.2.
	ErrNoCommonVersion = &Error{CodeBadVersion, "stomp: no supported version in accept-version"}
	// ErrBadHeartBeat: a heart-beat value that is not two non-negative
	// integers (milliseconds, at most MaxHeartBeatMillis) separated by a
	// comma.
	ErrBadHeartBeat = &Error{CodeBadHeartBeat, "stomp: invalid heart-beat header"}
)
