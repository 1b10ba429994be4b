// Package errs defines OmniHub's typed errors.
//
// Every error that crosses a package boundary towards a user (HTTP, CLI, job
// dead letters) carries one of a small set of codes. The codes are mapped to
// HTTP statuses and CLI exit codes in exactly one place (HTTPStatus, ExitCode),
// so handlers and commands never invent their own mapping.
package errs

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error by what the caller can do about it.
type Code string

const (
	Invalid      Code = "invalid"      // the input is wrong; retrying the same input will fail again
	NotFound     Code = "not_found"    // the thing asked for does not exist
	Conflict     Code = "conflict"     // the request clashes with current state (duplicate, illegal transition, insufficient stock)
	Unauthorized Code = "unauthorized" // no or bad credentials
	Forbidden    Code = "forbidden"    // credentials fine, permission missing
	Unavailable  Code = "unavailable"  // a dependency is down or rate limited; retrying later may work
	Internal     Code = "internal"     // a bug or an unexpected failure
)

// Error is OmniHub's typed error. Message is safe to show to a user; Err, when
// set, is the underlying cause and is kept for logs and errors.Is/As.
type Error struct {
	Code    Code
	Message string
	// Fields optionally names the offending input fields (field → reason).
	Fields map[string]string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Err != nil:
		return e.Message + ": " + e.Err.Error()
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	default:
		return string(e.Code)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// E builds a typed error with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap gives err a code and a message while keeping it as the cause.
// Wrap(nil, ...) returns nil.
func Wrap(err error, code Code, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// WithField returns an Invalid error naming one offending field.
func WithField(field, reason string) *Error {
	return &Error{Code: Invalid, Message: field + ": " + reason, Fields: map[string]string{field: reason}}
}

// WithField adds one offending field to e and returns e, for chaining:
// errs.E(errs.Invalid, "bad sku").WithField("code", "required").
func (e *Error) WithField(field, reason string) *Error {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	e.Fields[field] = reason
	return e
}

// CodeOf returns the code of the outermost typed error in err's chain, or
// Internal when err carries none. CodeOf(nil) is "".
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// MessageOf returns the user-safe message of err: the typed error's message,
// or a generic text for untyped (internal) errors so that no internal detail leaks.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Code == Internal && e.Message == "" {
			return "internal error"
		}
		return e.Error()
	}
	return "internal error"
}

// FieldsOf returns the offending fields of the outermost typed error, if any.
func FieldsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// HTTPStatus maps a code to its HTTP status.
func HTTPStatus(code Code) int {
	switch code {
	case Invalid:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case Unavailable:
		return http.StatusServiceUnavailable
	case "":
		return http.StatusOK
	default:
		return http.StatusInternalServerError
	}
}

// ExitCode maps a code to the CLI exit status. 0 is success, 1 a generic
// failure; the others let scripts tell failures apart.
func ExitCode(code Code) int {
	switch code {
	case "":
		return 0
	case Invalid:
		return 2
	case NotFound:
		return 3
	case Conflict:
		return 4
	case Unauthorized, Forbidden:
		return 5
	case Unavailable:
		return 6
	default:
		return 1
	}
}
