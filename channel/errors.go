package channel

import (
	"errors"
	"fmt"
	"time"

	"omnihub/errs"
)

// APIError is an error answer from a platform, kept with the platform's own
// codes so that operators can look them up, and classified so that the sync
// engine knows whether to retry, refresh the token or give up.
type APIError struct {
	Platform Platform
	Code     string // the platform's error code
	SubCode  string // the platform's sub-code, when it has one
	Message  string
	// Class decides what the caller does about it.
	Class ErrorClass
	// RetryAfter, when known, is how long the platform asked us to wait.
	RetryAfter time.Duration
}

// ErrorClass classifies platform errors by the reaction they need.
type ErrorClass int

const (
	ClassPermanent   ErrorClass = iota // bad request, not found, business rule: do not retry as is
	ClassTransient                     // platform 5xx, timeout: retry with backoff
	ClassRateLimited                   // slow down, then retry
	ClassAuthExpired                   // refresh the token, then retry
	ClassAuthInvalid                   // credentials wrong or revoked: a person must act
)

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s API error %s", e.Platform, e.Code)
	if e.SubCode != "" {
		s += "/" + e.SubCode
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap gives the error its OmniHub code so errs.CodeOf works through it.
func (e *APIError) Unwrap() error {
	switch e.Class {
	case ClassTransient, ClassRateLimited:
		return errs.E(errs.Unavailable, "%s unavailable", e.Platform)
	case ClassAuthExpired, ClassAuthInvalid:
		return errs.E(errs.Unauthorized, "%s rejected the shop's credentials", e.Platform)
	default:
		return errs.E(errs.Invalid, "%s rejected the request", e.Platform)
	}
}

func classOf(err error) (ErrorClass, bool) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Class, true
	}
	return 0, false
}

// IsRetryable reports whether retrying later may succeed: platform
// errors of the transient, rate-limit or expired-token classes, and errors
// typed Unavailable (network failures).
func IsRetryable(err error) bool {
	if c, ok := classOf(err); ok {
		return c == ClassTransient || c == ClassRateLimited || c == ClassAuthExpired
	}
	return errs.Is(err, errs.Unavailable)
}

// IsRateLimited reports whether the platform asked us to slow down.
func IsRateLimited(err error) bool { c, ok := classOf(err); return ok && c == ClassRateLimited }

// IsAuthExpired reports whether the token must be refreshed.
func IsAuthExpired(err error) bool { c, ok := classOf(err); return ok && c == ClassAuthExpired }

// RetryAfterOf returns how long a rate-limited platform asked us to wait (0
// when it did not say).
func RetryAfterOf(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}
