package douyin

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Sign methods accepted in the sign_method query parameter.
const (
	SignMD5        = "md5"
	SignHMACSHA256 = "hmac-sha256"
)

// ParamJSON serialises business parameters the way the platform verifies
// them: keys sorted at every level, compact, no HTML escaping (so "&", "<"
// and ">" stay literal) and numbers kept exactly as given. The signature is
// computed over this exact string, and the same string is sent as the body.
func ParamJSON(v any) (string, error) {
	if v == nil {
		return "{}", nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
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
	out := strings.TrimSuffix(buf.String(), "\n")
	if out == "null" {
		return "{}", nil
	}
	return out, nil
}

// SignPattern is the string the platform hashes: the secret, then the
// parameter names and values app_key, method, param_json, timestamp and v
// in that (alphabetical) order with no separators, then the secret again.
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
// the pattern keyed by the app secret; lower-case hex either way.
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
// the raw body and the app secret, concatenated.
func PushSign(appKey, appSecret string, body []byte) string {
	h := md5.New()
	h.Write([]byte(appKey))
	h.Write(body)
	h.Write([]byte(appSecret))
	return hex.EncodeToString(h.Sum(nil))
}
