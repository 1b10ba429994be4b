package douyin

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"omnihub/errs"
)

// Sign methods accepted in the sign_method query parameter.
const (
	SignMD5        = "md5"
	SignHMACSHA256 = "hmac-sha256"
)

// ParamJSON serialises business parameters the way the official SDKs do
// before signing: a JSON object, keys sorted at every level (byte order),
// compact, no HTML escaping (so "&", "<", ">", "'" and "=" stay literal, as
// the platform's signing guide requires), non-ASCII text unescaped, nulls
// kept and numbers written exactly as given. No parameters give "{}". The
// signature is computed over this exact string, and the same string is sent
// as the body. Like the official Go SDK it escapes U+2028 and U+2029 (Go's
// encoder always does). Anything that is not a JSON object is refused: the
// platform's param_json is always an object.
func ParamJSON(v any) (string, error) {
	if v == nil {
		return "{}", nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if bytes.Equal(raw, []byte("null")) {
		return "{}", nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return "", errs.E(errs.Invalid, "douyin: param_json must be a JSON object, got %.20s", raw)
	}
	// Re-decode into generic values: Go marshals maps with sorted keys, so
	// one round trip sorts struct fields and nested objects alike.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// SignPattern is the string the platform hashes: the secret, then the
// parameter names and values app_key, method, param_json, timestamp and v
// in that (alphabetical) order with no separators, then the secret again.
// access_token, sign_method and sign are not part of it.
func SignPattern(appKey, appSecret, method, paramJSON, timestamp string) string {
	var b strings.Builder
	b.Grow(len(appSecret)*2 + len(paramJSON) + len(method) + len(appKey) + 64)
	b.WriteString(appSecret)
	b.WriteString("app_key")
	b.WriteString(appKey)
	b.WriteString("method")
	b.WriteString(method)
	b.WriteString("param_json")
	b.WriteString(paramJSON)
	b.WriteString("timestamp")
	b.WriteString(timestamp)
	b.WriteString("v2")
	b.WriteString(appSecret)
	return b.String()
}

// Sign computes a request signature: md5 of the pattern, or HMAC-SHA256 of
// the pattern keyed by the app secret (the pattern keeps the secret at both
// ends in that case too); lower-case hex either way. Any sign method other
// than "hmac-sha256" means md5, the platform's default.
func Sign(signMethod, appKey, appSecret, method, paramJSON, timestamp string) string {
	p := SignPattern(appKey, appSecret, method, paramJSON, timestamp)
	if signMethod == SignHMACSHA256 {
		h := hmac.New(sha256.New, []byte(appSecret))
		h.Write([]byte(p))
		return hex.EncodeToString(h.Sum(nil))
	}
	sum := md5.Sum([]byte(p))
	return hex.EncodeToString(sum[:])
}

// PushSign is the event-sign header of a message push: md5 of app key,
// the raw body exactly as received and the app secret, concatenated;
// lower-case hex.
func PushSign(appKey, appSecret string, body []byte) string {
	h := md5.New()
	h.Write([]byte(appKey))
	h.Write(body)
	h.Write([]byte(appSecret))
	return hex.EncodeToString(h.Sum(nil))
}
