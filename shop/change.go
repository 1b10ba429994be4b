package shop

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"omnihub/errs"
)

// Change is a partial update of a shop (PATCH /api/v1/shops/{id}, omnihub
// shop set|pause|resume): only the fields given change.
type Change struct {
	Name *string `json:"name,omitempty"`
	// Status is active or paused. A paused shop is neither pulled nor
	// pushed to; resuming it schedules a reconciliation (Options.OnResumeTx).
	Status   *Status         `json:"status,omitempty"`
	Settings *SettingsChange `json:"settings,omitempty"`
}

// SettingsChange changes some of a shop's settings; nil fields keep their
// value. In JSON a duration is a Go duration string ("90s") or integer
// nanoseconds, as in Settings; null puts it back to its default.
type SettingsChange struct {
	PullInterval *time.Duration
	PullOverlap  *time.Duration
	PushStock    *bool
	StockRate    *float64
}

// settingsChangeJSON is the wire form of SettingsChange.
type settingsChangeJSON struct {
	PullInterval json.RawMessage `json:"pull_interval"`
	PullOverlap  json.RawMessage `json:"pull_overlap"`
	PushStock    *bool           `json:"push_stock"`
	StockRate    *float64        `json:"stock_rate"`
}

// UnmarshalJSON reads a settings change strictly (an unknown key is an
// error); bad durations are errs.Invalid naming the field, as for Settings.
func (c *SettingsChange) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*c = SettingsChange{}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w settingsChangeJSON
	if err := dec.Decode(&w); err != nil {
		return err
	}
	out := SettingsChange{PushStock: w.PushStock, StockRate: w.StockRate}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  **time.Duration
	}{{"pull_interval", w.PullInterval, &out.PullInterval}, {"pull_overlap", w.PullOverlap, &out.PullOverlap}} {
		if len(f.raw) == 0 {
			continue
		}
		d, err := parseDuration(f.name, f.raw)
		if err != nil {
			return err
		}
		*f.dst = &d
	}
	*c = out
	return nil
}

// MarshalJSON writes the given fields, durations as Go duration strings.
func (c SettingsChange) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if c.PullInterval != nil {
		m["pull_interval"] = FormatDuration(*c.PullInterval)
	}
	if c.PullOverlap != nil {
		m["pull_overlap"] = FormatDuration(*c.PullOverlap)
	}
	if c.PushStock != nil {
		m["push_stock"] = *c.PushStock
	}
	if c.StockRate != nil {
		m["stock_rate"] = *c.StockRate
	}
	return json.Marshal(m)
}

// JSONSchema describes the JSON form of SettingsChange for the OpenAPI
// document.
func (SettingsChange) JSONSchema() map[string]any {
	s := Settings{}.JSONSchema()
	props := map[string]any{}
	for k, v := range s["properties"].(map[string]any) {
		p := map[string]any{}
		for pk, pv := range v.(map[string]any) {
			p[pk] = pv
		}
		if k == "pull_interval" || k == "pull_overlap" {
			p["type"] = []any{"string", "integer", "null"}
			p["description"] = p["description"].(string) + " null puts the default back."
		}
		props[k] = p
	}
	return map[string]any{
		"type":                 "object",
		"description":          "The settings to change; keys left out keep their value.",
		"properties":           props,
		"additionalProperties": false,
	}
}

// IsZero reports whether the change changes nothing.
func (c SettingsChange) IsZero() bool {
	return c.PullInterval == nil && c.PullOverlap == nil && c.PushStock == nil && c.StockRate == nil
}

// Apply returns s with the change made (zero durations take their default).
func (c SettingsChange) Apply(s Settings) Settings {
	if c.PullInterval != nil {
		s.PullInterval = *c.PullInterval
	}
	if c.PullOverlap != nil {
		s.PullOverlap = *c.PullOverlap
	}
	if c.PushStock != nil {
		s.PushStock = *c.PushStock
	}
	if c.StockRate != nil {
		s.StockRate = *c.StockRate
	}
	return s.WithDefaults()
}

// IsZero reports whether the change changes nothing.
func (c Change) IsZero() bool {
	return c.Name == nil && c.Status == nil && (c.Settings == nil || c.Settings.IsZero())
}

// Validate checks a change; a bad field is errs.Invalid naming it.
func (c Change) Validate() error {
	if c.IsZero() {
		return errs.E(errs.Invalid, "nothing to change: give name, status or settings")
	}
	e := &errs.Error{Code: errs.Invalid}
	var bad []string
	add := func(field, reason string) {
		e.WithField(field, reason)
		bad = append(bad, field+" "+reason)
	}
	if c.Name != nil && strings.TrimSpace(*c.Name) == "" {
		add("name", "must not be empty")
	}
	if c.Status != nil && *c.Status != Active && *c.Status != Paused {
		add("status", "must be active or paused")
	}
	if s := c.Settings; s != nil {
		if s.PullInterval != nil && *s.PullInterval < 0 {
			add("settings.pull_interval", "must not be negative")
		}
		if s.PullOverlap != nil && *s.PullOverlap < 0 {
			add("settings.pull_overlap", "must not be negative")
		}
		if s.StockRate != nil && *s.StockRate < 0 {
			add("settings.stock_rate", "must not be negative")
		}
	}
	if len(bad) > 0 {
		e.Message = "shop change: " + strings.Join(bad, "; ")
		return e
	}
	return nil
}
