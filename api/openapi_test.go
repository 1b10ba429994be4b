package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"omnihub/errs"
)

type testItem struct {
	ID       string     `json:"id"`
	Qty      int64      `json:"qty"`
	Note     string     `json:"note,omitempty"`
	At       time.Time  `json:"at"`
	Parent   *testItem  `json:"parent,omitempty"`
	Children []testItem `json:"children"`
	Hidden   string     `json:"-"`
	testEmbedded
}

type testEmbedded struct {
	Shop string `json:"shop_id"`
}

func newTestServer() *Server {
	return New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), MaxBodyBytes: 64})
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	s := newTestServer()
	noop := func(w http.ResponseWriter, r *http.Request) error { return nil }
	s.Handle("GET /api/v1/things/{id}", "things.read", noop)
	s.HandleOp(Op{Method: "POST", Path: "/api/v1/things", Permission: "things.write", Summary: "Create a thing",
		Request: testItem{}, Response: Page[testItem]{}, Status: 201}, noop)
	s.PublicSigned("POST /push/{platform}/{rest...}", http.NotFoundHandler())
	s.Handle("GET /api/v1/a-b", "things.read", noop)
	s.Handle("GET /api/v1/a/b", "things.read", noop)

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	for _, rt := range s.Routes() {
		p, _ := openAPIPath(rt.Path)
		if _, ok := doc.Paths[p][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s %s missing from the document", rt.Method, rt.Path)
		}
	}
	seen := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			id, _ := op["operationId"].(string)
			if id == "" || seen[id] {
				t.Errorf("%s %s: operationId %q missing or duplicated", method, path, id)
			}
			seen[id] = true
			if _, ok := op["responses"].(map[string]any)["default"]; !ok {
				t.Errorf("%s %s has no default (problem) response", method, path)
			}
		}
	}
	create := doc.Paths["/api/v1/things"]["post"]
	if create["summary"] != "Create a thing" || create["x-permission"] != "things.write" {
		t.Errorf("create op = %v", create)
	}
	if _, ok := create["responses"].(map[string]any)["201"]; !ok {
		t.Errorf("create lacks its 201 response: %v", create["responses"])
	}
	push := doc.Paths["/push/{platform}/{rest}"]["post"]
	if push["x-signed"] != true || len(push["parameters"].([]any)) != 2 {
		t.Errorf("signed push op = %v", push)
	}
	item := doc.Components.Schemas["api.testItem"]
	props := item["properties"].(map[string]any)
	for _, want := range []string{"id", "qty", "note", "at", "parent", "children", "shop_id"} {
		if _, ok := props[want]; !ok {
			t.Errorf("testItem schema lacks %s: %v", want, props)
		}
	}
	if _, ok := props["Hidden"]; ok {
		t.Error(`json:"-" field documented`)
	}
	req := strings.Join(anyStrings(item["required"]), ",")
	if req != "at,children,id,qty,shop_id" {
		t.Errorf("required = %s", req)
	}
	if _, ok := doc.Components.Schemas["api.Page_api.testItem"]; !ok {
		t.Errorf("generic page schema missing: %v", keys(doc.Components.Schemas))
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func keys[M ~map[string]V, V any](m M) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestHostileBodies(t *testing.T) {
	s := newTestServer()
	s.Public("POST /echo", func(w http.ResponseWriter, r *http.Request) error {
		var v struct {
			Name string `json:"name"`
			Qty  int    `json:"qty"`
		}
		if err := DecodeJSON(r, &v); err != nil {
			return err
		}
		return WriteJSON(w, 200, v)
	})
	cases := []struct {
		name, body string
		chunked    bool
		status     int
		detail     string
	}{
		{"ok", `{"name":"x'; DROP TABLE users;--","qty":1}`, false, 200, ""},
		{"too large by length", `{"name":"` + strings.Repeat("a", 100) + `"}`, false, 413, "too large"},
		{"too large streamed", `{"name":"` + strings.Repeat("a", 100) + `"}`, true, 413, "too large"},
		{"malformed", `{"name":`, false, 400, "truncated"},
		{"syntax", `{"name" "x"}`, false, 400, "at byte"},
		{"unknown field", `{"nme":"x"}`, false, 400, `unknown field \"nme\"`},
		{"wrong type", `{"qty":"x"}`, false, 400, "qty"},
		{"trailing", `{"name":"x"} {}`, false, 400, "after the JSON value"},
		{"empty", ``, false, 400, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(c.body)
			if c.chunked {
				body = io.MultiReader(bytes.NewReader([]byte(c.body))) // unknown length
			}
			req := httptest.NewRequest("POST", "/echo", body)
			if c.chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if c.status != 200 {
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content type %q", ct)
				}
				if !strings.Contains(rec.Body.String(), c.detail) {
					t.Errorf("detail lacks %q: %s", c.detail, rec.Body)
				}
			}
		})
	}
}

// testPeriod has its own JSON form and says so.
type testPeriod struct{ n int }

func (p testPeriod) MarshalJSON() ([]byte, error) { return json.Marshal(itoa(p.n) + "s") }

func (p *testPeriod) UnmarshalJSON(b []byte) error {
	if string(b) != `"1s"` {
		return errs.WithField("period", `must be "1s"`)
	}
	p.n = 1
	return nil
}

func (testPeriod) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "description": "a period"}
}

func TestOpenAPITypeDescribesItself(t *testing.T) {
	s := newTestServer()
	s.HandleOp(Op{Method: "POST", Path: "/api/v1/periods", Permission: "things.write",
		Request: struct {
			P  testPeriod   `json:"p"`
			PS []testPeriod `json:"ps"`
		}{}}, func(w http.ResponseWriter, r *http.Request) error { return nil })
	doc := s.OpenAPI()
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	got, ok := schemas["api.testPeriod"].(map[string]any)
	if !ok || got["type"] != "string" || got["description"] != "a period" {
		t.Fatalf("component api.testPeriod = %v (schemas %v)", got, keys(schemas))
	}
	body := doc["paths"].(map[string]any)["/api/v1/periods"].(map[string]any)["post"].(map[string]any)["requestBody"].(map[string]any)
	schema := body["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	props := schema["properties"].(map[string]any)
	if ref := props["p"].(map[string]any)["$ref"]; ref != "#/components/schemas/api.testPeriod" {
		t.Fatalf("p = %v", props["p"])
	}
	if ref := props["ps"].(map[string]any)["items"].(map[string]any)["$ref"]; ref != "#/components/schemas/api.testPeriod" {
		t.Fatalf("ps = %v", props["ps"])
	}
}

// A typed error from a type's own UnmarshalJSON reaches the client with
// its message and fields, not as a generic "malformed JSON body".
func TestDecodeJSONKeepsUnmarshalerErrors(t *testing.T) {
	s := newTestServer()
	s.Public("POST /period", func(w http.ResponseWriter, r *http.Request) error {
		var v struct {
			P testPeriod `json:"p"`
		}
		if err := DecodeJSON(r, &v); err != nil {
			return err
		}
		return WriteJSON(w, 200, v)
	})
	for body, want := range map[string]int{`{"p":"1s"}`: 200, `{"p":"2s"}`: 400} {
		req := httptest.NewRequest("POST", "/period", strings.NewReader(body))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("%s: status %d, want %d: %s", body, rec.Code, want, rec.Body)
		}
		if want != 400 {
			continue
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Code != errs.Invalid || p.Fields["period"] != `must be "1s"` {
			t.Fatalf("problem = %+v", p)
		}
	}
}
