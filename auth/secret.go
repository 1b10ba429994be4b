package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"omnihub/errs"
)

// API tokens look like omh_<43 base64url chars> (32 random bytes). The
// first 12 characters are the public prefix: stored in clear, shown in
// listings and audit actors, and used to find the row; the whole token is
// stored only as its SHA-256. Console session cookies are 32 random bytes
// too, stored the same way, so a database leak yields nothing replayable.
const (
	tokenScheme    = "omh_"
	secretBytes    = 32
	secretChars    = 43 // base64url, no padding, of 32 bytes
	tokenLen       = len(tokenScheme) + secretChars
	tokenPrefixLen = len(tokenScheme) + 8
	// SessionCookie is the console session cookie's name.
	SessionCookie = "omnihub_session"
	// CSRFHeader carries the session's CSRF token on unsafe requests.
	CSRFHeader = "X-CSRF-Token"
)

var errBadCredentials = errs.E(errs.Unauthorized, "invalid credentials")

func randomSecret() string {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newToken() (token, prefix string) {
	token = tokenScheme + randomSecret()
	return token, token[:tokenPrefixLen]
}

// ParseToken checks the shape of an API token and returns its lookup
// prefix. It does no I/O: malformed input is rejected before the database.
func ParseToken(s string) (prefix string, err error) {
	if len(s) != tokenLen || !strings.HasPrefix(s, tokenScheme) || !isSecret(s[len(tokenScheme):]) {
		return "", errBadCredentials
	}
	return s[:tokenPrefixLen], nil
}

// ParseSessionCookie checks the shape of a session cookie value.
func ParseSessionCookie(v string) error {
	if !isSecret(v) {
		return errBadCredentials
	}
	return nil
}

// ParseBearer extracts the token from an Authorization header value.
func ParseBearer(h string) (string, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errs.E(errs.Unauthorized, "Authorization must be \"Bearer <token>\"")
	}
	return strings.TrimSpace(tok), nil
}

// isSecret reports whether s is exactly a base64url encoding of 32 bytes.
func isSecret(s string) bool {
	if len(s) != secretChars {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == secretBytes
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func equalSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
