package runtimeapi

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDefaultLimitMessages(t *testing.T) {
	s := New(Options{})
	if got, want := string(s.tooLarge.body), `{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}`; got != want {
		t.Errorf("413 body = %s, want %s", got, want)
	}
	if got, want := string(s.tooLargeBody), `{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}`; got != want {
		t.Errorf("result body = %s, want %s", got, want)
	}
}

func TestValidErrorType(t *testing.T) {
	tests := map[string]string{
		"Runtime.ExitError":         "Runtime.ExitError",
		"Function.ResponseTooLarge": "Function.ResponseTooLarge",
		"Runtime.Ab":                "Runtime.Ab",
		"x Runtime.Crash":           "x Runtime.Crash", // unanchored, as RIE
		"":                          "Runtime.Unknown",
		"Unhandled":                 "Runtime.Unknown",
		"errorString":               "Runtime.Unknown",
		"Runtime.A":                 "Runtime.Unknown",
		"Runtime.lower":             "Runtime.Unknown",
		"Function.":                 "Function.Unknown",
		"Function.x1":               "Function.Unknown",
		"Runtime.":                  "Runtime.Unknown",
	}
	for in, want := range tests {
		if got := validErrorType(in); got != want {
			t.Errorf("validErrorType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadBody(t *testing.T) {
	const limit = 10
	tests := []struct {
		name    string
		body    io.Reader
		length  int64
		want    string
		wantErr error // nil, errTooLarge, or any (io.ErrUnexpectedEOF stands for "cut short")
	}{
		{"empty", strings.NewReader(""), 0, "", nil},
		{"empty chunked", strings.NewReader(""), -1, "", nil},
		{"sized", strings.NewReader("hello"), 5, "hello", nil},
		{"chunked", iotest.OneByteReader(strings.NewReader("hello")), -1, "hello", nil},
		{"at limit sized", strings.NewReader("0123456789"), 10, "0123456789", nil},
		{"at limit chunked", strings.NewReader("0123456789"), -1, "0123456789", nil},
		{"over limit sized", strings.NewReader("0123456789a"), 11, "", errTooLarge},
		{"over limit chunked", strings.NewReader("0123456789abc"), -1, "", errTooLarge},
		{"cut short sized", strings.NewReader("abc"), 5, "", io.ErrUnexpectedEOF},
		{"cut short chunked", iotest.TimeoutReader(bytes.NewReader([]byte("abcdef"))), -1, "", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(tt.body, tt.length, limit)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case errors.Is(tt.wantErr, errTooLarge) && !errors.Is(err, errTooLarge):
				t.Fatalf("err = %v, want errTooLarge", err)
			case errors.Is(tt.wantErr, io.ErrUnexpectedEOF) && (err == nil || errors.Is(err, errTooLarge)):
				t.Fatalf("err = %v, want a read error", err)
			}
			if string(got) != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlatformErrorEscapes(t *testing.T) {
	got := string(PlatformError("Runtime.ExitError", "id", `exit "quoted" é`))
	want := `{"errorMessage":"RequestId: id Error: exit \"quoted\" é","errorType":"Runtime.ExitError"}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
