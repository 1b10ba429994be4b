package taobao

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"omnihub/channel"
)

// responseKey is the key TOP wraps a successful answer in: the method name
// without its "taobao." prefix, dots as underscores, plus "_response"
// (taobao.trades.sold.increment.get → trades_sold_increment_get_response).
func responseKey(method string) string {
	m := strings.TrimPrefix(method, "taobao.")
	return strings.ReplaceAll(m, ".", "_") + "_response"
}

// errorBody is TOP's error envelope.
type errorBody struct {
	Code      flexString `json:"code"`
	Msg       string     `json:"msg"`
	SubCode   string     `json:"sub_code"`
	SubMsg    string     `json:"sub_msg"`
	RequestID string     `json:"request_id"`
}

// decodeEnvelope returns the body of a successful answer to method, or the
// platform's error as a classified *channel.APIError.
func decodeEnvelope(body []byte, method string) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, &channel.APIError{Platform: channel.Taobao, Code: "bad_response",
			Message: "undecodable response: " + err.Error(), Class: channel.ClassTransient}
	}
	if raw, ok := top["error_response"]; ok {
		var e errorBody
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, &channel.APIError{Platform: channel.Taobao, Code: "bad_response",
				Message: "undecodable error_response", Class: channel.ClassTransient}
		}
		return nil, classify(e)
	}
	if raw, ok := top[responseKey(method)]; ok {
		return raw, nil
	}
	// Some non-taobao.* namespaces keep their prefix (tmall.x → tmall_x_response).
	if raw, ok := top[strings.ReplaceAll(method, ".", "_")+"_response"]; ok {
		return raw, nil
	}
	return nil, &channel.APIError{Platform: channel.Taobao, Code: "bad_response",
		Message: "response has no " + responseKey(method), Class: channel.ClassTransient}
}

var banSeconds = regexp.MustCompile(`(?i)ban will last for (\d+) more seconds`)

// classify maps a TOP error to the reaction it needs. Codes below 100 are
// platform errors (see docs/connectors/taobao.md); sub codes starting with
// "isp." are server side and worth a retry, "isv." ones are the caller's.
func classify(e errorBody) *channel.APIError {
	ae := &channel.APIError{Platform: channel.Taobao, Code: string(e.Code), SubCode: e.SubCode, Message: e.Msg}
	if e.SubMsg != "" {
		ae.Message = strings.TrimSpace(e.Msg + ": " + e.SubMsg)
	}
	code, _ := strconv.Atoi(string(e.Code))
	switch {
	case code >= 4 && code <= 8: // user/session/partner/app call limits and frequency
		ae.Class = channel.ClassRateLimited
		if m := banSeconds.FindStringSubmatch(e.SubMsg); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil {
				ae.RetryAfter = time.Duration(n) * time.Second
			}
		}
	case strings.HasPrefix(e.SubCode, "accesscontrol.limited"):
		ae.Class = channel.ClassRateLimited
	case code == 26 || code == 27: // missing / invalid (incl. expired) session
		ae.Class = channel.ClassAuthExpired
	case code == 24 || code == 25 || code == 28 || code == 29: // signature or app key wrong
		ae.Class = channel.ClassAuthInvalid
	case code == 10 || strings.HasPrefix(e.SubCode, "isp."):
		ae.Class = channel.ClassTransient
	case code == 15 && e.SubCode == "":
		ae.Class = channel.ClassTransient
	default: // 11-13 permissions, 21-23, 30-43 request errors, isv.* business errors
		ae.Class = channel.ClassPermanent
	}
	return ae
}

// flexString accepts a JSON string or number (TOP sends ids as numbers,
// some gateways and simplify=true as strings) and keeps its text exactly,
// so 19-digit ids never pass through a float.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want string or number, got %.20s", b)
	}
	*f = flexString(n.String())
	return nil
}

// flexBool accepts true/false as JSON booleans or strings.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	*f = flexBool(s == "true" || s == "1")
	return nil
}

// list decodes TOP's list shapes: with simplify=false a list is wrapped in
// an object with one key ({"trades":{"trade":[…]}}), with simplify=true it is
// a plain array. Both are accepted.
type list[T any] []T

func (l *list[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	if b[0] == '[' {
		var xs []T
		if err := json.Unmarshal(b, &xs); err != nil {
			return err
		}
		*l = xs
		return nil
	}
	var wrap map[string]json.RawMessage
	if err := json.Unmarshal(b, &wrap); err != nil {
		return err
	}
	for _, raw := range wrap {
		var xs []T
		if err := json.Unmarshal(raw, &xs); err != nil {
			return err
		}
		*l = append(*l, xs...)
	}
	return nil
}

// ParseFen converts a TOP money string ("12.50", "12.5", "12") to fen
// exactly. More than two decimals is an error: TOP amounts are in yuan with
// at most fen precision, and rounding money silently is not acceptable.
func ParseFen(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("taobao: bad amount %q", s)
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("taobao: amount %q has more than fen precision", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	if whole == "" {
		whole = "0"
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("taobao: bad amount %q", s)
		}
	}
	if len(whole) > 15 {
		return 0, fmt.Errorf("taobao: amount %q too large", s)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	v := w*100 + f
	if neg {
		v = -v
	}
	return v, nil
}

// FormatFen renders fen as a TOP yuan amount with two decimals.
func FormatFen(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}
