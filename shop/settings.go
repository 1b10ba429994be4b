package shop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"omnihub/errs"
)

// settingsJSON is the wire form of Settings. Durations are raw so that
// UnmarshalJSON can accept both of their forms.
type settingsJSON struct {
	PullInterval json.RawMessage `json:"pull_interval,omitempty"`
	PullOverlap  json.RawMessage `json:"pull_overlap,omitempty"`
	PushStock    bool            `json:"push_stock"`
	StockRate    float64         `json:"stock_rate,omitempty"`
}

// MarshalJSON writes durations as Go duration strings ("1m", "1m30s");
// zero durations are left out, as before.
func (s Settings) MarshalJSON() ([]byte, error) {
	w := settingsJSON{PushStock: s.PushStock, StockRate: s.StockRate}
	if s.PullInterval != 0 {
		w.PullInterval = json.RawMessage(strconv.Quote(FormatDuration(s.PullInterval)))
	}
	if s.PullOverlap != 0 {
		w.PullOverlap = json.RawMessage(strconv.Quote(FormatDuration(s.PullOverlap)))
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads settings strictly (an unknown key is an error, as for
// any request body). A duration is a Go duration string ("10s", "1m30s",
// "2h") or, for compatibility with the earlier encoding, an integer number
// of nanoseconds; negative durations are invalid. Bad input is an
// errs.Invalid naming the field (settings.<key>).
func (s *Settings) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w settingsJSON
	if err := dec.Decode(&w); err != nil {
		return err
	}
	pi, err := parseDuration("pull_interval", w.PullInterval)
	if err != nil {
		return err
	}
	po, err := parseDuration("pull_overlap", w.PullOverlap)
	if err != nil {
		return err
	}
	*s = Settings{PullInterval: pi, PullOverlap: po, PushStock: w.PushStock, StockRate: w.StockRate}
	return nil
}

// durationHint is the reason given for a malformed duration.
const durationHint = `must be a duration such as "90s", "1m30s" or "2h" (or integer nanoseconds)`

// parseDuration decodes one duration field of the wire form (absent or
// null: zero).
func parseDuration(field string, raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, nil
	}
	bad := func(got string) error {
		return errs.E(errs.Invalid, "settings.%s %s, not %s", field, durationHint, got).
			WithField("settings."+field, durationHint)
	}
	var d time.Duration
	switch raw[0] {
	case '"':
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, bad(string(raw))
		}
		v, err := time.ParseDuration(strings.TrimSpace(str))
		if err != nil {
			return 0, bad(strconv.Quote(str))
		}
		d = v
	default:
		// A number: nanoseconds, as Settings was encoded before. Only an
		// integer literal, which is all that encoding ever accepted.
		v, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return 0, bad(string(raw))
		}
		d = time.Duration(v)
	}
	if d < 0 {
		return 0, errs.E(errs.Invalid, "settings.%s must not be negative", field).WithField("settings."+field, "must not be negative")
	}
	return d, nil
}

// FormatDuration writes d as time.Duration.String does, without the zero
// units it leaves at the end: "1m" rather than "1m0s", "2h" rather than
// "2h0m0s", "1h30m" rather than "1h30m0s". time.ParseDuration reads every
// form back.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// JSONSchema describes the JSON form of Settings for the OpenAPI document
// (the Go field types would say integer nanoseconds).
func (Settings) JSONSchema() map[string]any {
	duration := func(what, def string) map[string]any {
		return map[string]any{
			"type": []any{"string", "integer"},
			"description": fmt.Sprintf("%s: a Go duration string such as \"90s\" or \"1m30s\" (default %s); an integer is read as nanoseconds "+
				"(the earlier encoding). Answers always use the string form.", what, def),
			"examples": []any{"1m", "1m30s"},
		}
	}
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"pull_interval": duration("time between incremental order pulls", "1m"),
			"pull_overlap":  duration("how much of the previous pull window is read again", "2m"),
			"push_stock":    map[string]any{"type": "boolean", "description": "push stock to this shop"},
			"stock_rate":    map[string]any{"type": "number", "description": "stock API calls per second for this shop (0: platform default)"},
		},
		"required":             []any{"push_stock"},
		"additionalProperties": false,
	}
}
