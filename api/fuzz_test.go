package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"omnihub/errs"
)

// FuzzDecodeJSON feeds arbitrary bodies to the strict decoder: it must never
// panic, and every failure must be a typed invalid-input error (400/413), never
// an internal one.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"name":"a","qty":1,"tags":["x"],"nested":{"k":"v"}}`, `{"qty":1e400}`, `[]`, `{"name":"\ud800"}`} {
		f.Add([]byte(seed))
	}
	type nested struct {
		K string `json:"k"`
	}
	type body struct {
		Name   string            `json:"name"`
		Qty    int64             `json:"qty"`
		Tags   []string          `json:"tags"`
		Nested *nested           `json:"nested"`
		Attrs  map[string]string `json:"attrs"`
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := httptest.NewRequest("POST", "/x", bytes.NewReader(data))
		rec := httptest.NewRecorder()
		req.Body = http.MaxBytesReader(rec, req.Body, 1<<12)
		var v body
		err := DecodeJSON(req, &v)
		if err != nil && errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("decode error has code %s: %v", errs.CodeOf(err), err)
		}
	})
}
