package frame

import (
	"errors"
	"testing"
)

func TestOpcode(t *testing.T) {
	for o := Opcode(0); o < 16; o++ {
		ctl := o >= 8
		if o.IsControl() != ctl || o.IsData() == ctl {
			t.Errorf("%v: IsControl %v IsData %v", o, o.IsControl(), o.IsData())
		}
		wantRes := !(o <= 2 || (o >= 8 && o <= 10))
		if o.reserved() != wantRes {
			t.Errorf("%v reserved=%v", o, o.reserved())
		}
	}
	if OpText.String() != "text" || Opcode(0xB).String() != "opcode(0xb)" {
		t.Errorf("String: %s %s", OpText, Opcode(0xB))
	}
}

func TestParseClose(t *testing.T) {
	cases := []struct {
		payload string
		code    CloseCode
		reason  string
		err     error
	}{
		{"", CloseNoStatus, "", nil},
		{"\x03", 0, "", ErrBadClosePayload},
		{"\x03\xe8", CloseNormal, "", nil},
		{"\x03\xe8bye", CloseNormal, "bye", nil},
		{"\x03\xe9\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", CloseGoingAway, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", nil},
		{"\x03\xe8\xff", 0, "", ErrInvalidUTF8},
		{"\x03\xe8\xed\xa0\x80", 0, "", ErrInvalidUTF8},
		{"\x03\xed", 0, "", ErrBadCloseCode},   // 1005
		{"\x03\xee", 0, "", ErrBadCloseCode},   // 1006
		{"\x03\xec", 0, "", ErrBadCloseCode},   // 1004
		{"\x03\xf7", 0, "", ErrBadCloseCode},   // 1015
		{"\x00\x00", 0, "", ErrBadCloseCode},   // 0
		{"\x03\xe7", 0, "", ErrBadCloseCode},   // 999
		{"\x07\xd0", 0, "", ErrBadCloseCode},   // 2000
		{"\x0b\xb7", 0, "", ErrBadCloseCode},   // 2999
		{"\x13\x88", 0, "", ErrBadCloseCode},   // 5000
		{"\x0b\xb8", 3000, "", nil},            // 3000
		{"\x13\x87", 4999, "", nil},            // 4999
		{"\x03\xf6", CloseBadGateway, "", nil}, // 1014
		{"\x03\xf4", CloseServiceRestart, "", nil},
	}
	for _, c := range cases {
		code, reason, err := ParseClose([]byte(c.payload))
		if err != c.err {
			t.Errorf("%q: err %v want %v", c.payload, err, c.err)
			continue
		}
		if err == nil && (code != c.code || string(reason) != c.reason) {
			t.Errorf("%q: got %d %q want %d %q", c.payload, code, reason, c.code, c.reason)
		}
	}
}

func TestProtocolErrorCodes(t *testing.T) {
	for _, e := range []*ProtocolError{ErrUnmasked, ErrMaskedServerFrame, ErrReservedBits, ErrReservedOpcode,
		ErrControlTooLong, ErrFragmentedControl, ErrUnexpectedContinuation, ErrExpectedContinuation,
		ErrLengthTopBit, ErrBadClosePayload, ErrBadCloseCode} {
		if e.Code != CloseProtocolError {
			t.Errorf("%v: code %d", e, e.Code)
		}
	}
	if ErrInvalidUTF8.Code != CloseInvalidPayload || ErrFrameTooBig.Code != CloseMessageTooBig ||
		ErrMessageTooBig.Code != CloseMessageTooBig {
		t.Error("payload error codes")
	}
	var pe *ProtocolError
	if !errors.As(error(ErrUnmasked), &pe) || pe.Code != 1002 || pe.Error() != "frame: unmasked client frame" {
		t.Error("errors.As")
	}
}
