package errs

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestCodeOfThroughWrapping(t *testing.T) {
	base := E(NotFound, "sku %q", "A1")
	wrapped := fmt.Errorf("reserve: %w", base)
	if got := CodeOf(wrapped); got != NotFound {
		t.Fatalf("CodeOf = %q, want not_found", got)
	}
	if CodeOf(errors.New("plain")) != Internal {
		t.Fatal("untyped error must be internal")
	}
	if CodeOf(nil) != "" {
		t.Fatal("nil error has no code")
	}
}

func TestMessageOfHidesInternalDetail(t *testing.T) {
	if got := MessageOf(errors.New("pq: password=secret")); got != "internal error" {
		t.Fatalf("leaked internal detail: %q", got)
	}
	if got := MessageOf(E(Invalid, "quantity must be positive")); got != "quantity must be positive" {
		t.Fatalf("MessageOf = %q", got)
	}
}

func TestMappings(t *testing.T) {
	cases := []struct {
		code   Code
		status int
		exit   int
	}{
		{Invalid, http.StatusBadRequest, 2},
		{NotFound, http.StatusNotFound, 3},
		{Conflict, http.StatusConflict, 4},
		{Unauthorized, http.StatusUnauthorized, 5},
		{Forbidden, http.StatusForbidden, 5},
		{Unavailable, http.StatusServiceUnavailable, 6},
		{Internal, http.StatusInternalServerError, 1},
	}
	for _, c := range cases {
		if got := HTTPStatus(c.code); got != c.status {
			t.Errorf("HTTPStatus(%s) = %d, want %d", c.code, got, c.status)
		}
		if got := ExitCode(c.code); got != c.exit {
			t.Errorf("ExitCode(%s) = %d, want %d", c.code, got, c.exit)
		}
	}
}

func TestWrapNil(t *testing.T) {
	if Wrap(nil, Internal, "x") != nil {
		t.Fatal("Wrap(nil) must be nil")
	}
}
