package api

import (
	"encoding"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Op describes a route with its documentation. Routes registered through
// HandleOp appear in the OpenAPI document with their request and response
// schemas; routes registered with Handle appear too, with generic schemas.
type Op struct {
	Method string // GET, POST, …
	Path   string // ServeMux path, e.g. /api/v1/orders/{id}
	// Permission required (see package auth). Empty with Public false means
	// "any authenticated principal".
	Permission  string
	Public      bool
	Summary     string
	Description string
	Tags        []string
	// Query lists the optional query parameters the handler reads.
	Query []string
	// Request and Response are sample values (e.g. CreateSKU{}, Page[SKU]{})
	// whose Go types become JSON schemas; nil means no body / unspecified.
	Request  any
	Response any
	// Status is the success status (default 200; 201 for typical creates).
	Status int
}

// Doc is the documentation part of an Op, attachable to a route already
// registered with Handle (see Describe).
type Doc struct {
	Summary     string
	Description string
	Tags        []string
	Query       []string
	Request     any
	Response    any
	Status      int
}

// HandleOp registers a documented route: like Handle (or Public when
// op.Public), with op's summary and body types in the OpenAPI document.
func (s *Server) HandleOp(op Op, h HandlerFunc) {
	pattern := op.Method + " " + op.Path
	s.add(pattern, op.Permission, op.Public, s.adapt(h))
	s.Describe(pattern, Doc{Summary: op.Summary, Description: op.Description, Tags: op.Tags,
		Query: op.Query, Request: op.Request, Response: op.Response, Status: op.Status})
}

// Describe attaches documentation to an already registered route (pattern as
// given to Handle). It panics on an unknown pattern so that a typo cannot
// silently leave a route undocumented.
func (s *Server) Describe(pattern string, d Doc) {
	method, path, _ := strings.Cut(pattern, " ")
	for i := range s.routes {
		if s.routes[i].Method == method && s.routes[i].Path == path {
			s.routes[i].Doc = d
			return
		}
	}
	panic("api: Describe of unregistered route " + pattern)
}

// openAPI serves the document generated from the registered routes, so the
// description can never drift from the router.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-cache")
	return WriteJSON(w, http.StatusOK, s.OpenAPI())
}

// OpenAPI builds the OpenAPI 3.1 document of every registered route.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}}
	problem := g.schema(reflect.TypeOf(Problem{}))
	paths := map[string]any{}
	opIDs := map[string]int{}
	for _, rt := range s.routes {
		apiPath, params := openAPIPath(rt.Path)
		item, _ := paths[apiPath].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[apiPath] = item
		}
		// operationId must be unique in the document; paths differing only
		// in punctuation would otherwise collide.
		opID := operationID(rt.Method, rt.Path)
		if opIDs[opID]++; opIDs[opID] > 1 {
			opID += itoa(opIDs[opID])
		}
		op := map[string]any{
			"operationId": opID,
			"summary":     rt.Doc.Summary,
		}
		if rt.Doc.Summary == "" {
			op["summary"] = rt.Method + " " + rt.Path
		}
		if rt.Doc.Description != "" {
			op["description"] = rt.Doc.Description
		}
		tags := rt.Doc.Tags
		if len(tags) == 0 {
			tags = []string{defaultTag(rt.Path)}
		}
		op["tags"] = tags
		var ps []any
		for _, p := range params {
			ps = append(ps, map[string]any{"name": p, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Doc.Query {
			ps = append(ps, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		if len(ps) > 0 {
			op["parameters"] = ps
		}
		if rt.Doc.Request != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Doc.Request))}},
			}
		}
		status := rt.Doc.Status
		if status == 0 {
			status = http.StatusOK
		}
		success := map[string]any{"description": http.StatusText(status)}
		if rt.Doc.Response != nil {
			success["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Doc.Response))}}
		}
		errResp := map[string]any{
			"description": "error (RFC 9457 problem)",
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": problem}},
		}
		op["responses"] = map[string]any{itoa(status): success, "default": errResp}
		switch {
		case rt.Signed:
			op["security"] = []any{}
			op["x-signed"] = true
		case rt.Public:
			op["security"] = []any{}
		default:
			scopes := []string{}
			if rt.Permission != "" {
				scopes = []string{rt.Permission}
				op["x-permission"] = rt.Permission
			}
			op["security"] = []any{
				map[string]any{"bearerAuth": scopes},
				map[string]any{"cookieAuth": scopes},
			}
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "OmniHub API",
			"version":     s.opts.Version,
			"description": "Generated from the registered routes. Errors are application/problem+json (RFC 9457) with a typed code. Security requirement values name the permission a route needs.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"bearerAuth": map[string]any{"type": "http", "scheme": "bearer", "description": "API token (omnihub token create)"},
				"cookieAuth": map[string]any{"type": "apiKey", "in": "cookie", "name": "omnihub_session", "description": "console session; unsafe methods also need the X-CSRF-Token header"},
			},
		},
	}
}

var pathParam = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// openAPIPath turns a ServeMux path into an OpenAPI path and its parameters.
func openAPIPath(p string) (string, []string) {
	p = strings.ReplaceAll(p, "{$}", "")
	var params []string
	out := pathParam.ReplaceAllStringFunc(p, func(m string) string {
		name := pathParam.FindStringSubmatch(m)[1]
		params = append(params, name)
		return "{" + name + "}"
	})
	return out, params
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		if part == "api" || part == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func defaultTag(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 3 && parts[0] == "api" && parts[1] == "v1" {
		return parts[2]
	}
	return "system"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// schemaGen derives JSON Schemas (2020-12, as OpenAPI 3.1 uses) from Go
// types, following encoding/json's rules for field names and omission.
// Named struct types become components with $ref, which also makes
// recursive types terminate.
type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
}

var (
	timeType          = reflect.TypeOf(time.Time{})
	rawMessageType    = reflect.TypeOf(json.RawMessage(nil))
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	durationType      = reflect.TypeOf(time.Duration(0))
	schemerType       = reflect.TypeOf((*JSONSchemer)(nil)).Elem()
)

// JSONSchemer is implemented by a type whose JSON form its Go shape does not
// tell (custom MarshalJSON): JSONSchema returns the JSON Schema of that form.
// The method must work on the zero value (value receiver). A named type
// becomes a component of the document, like a struct.
type JSONSchemer interface {
	JSONSchema() map[string]any
}

// described returns the schema t gives of itself, as a component when t is
// named.
func (g *schemaGen) described(t reflect.Type) map[string]any {
	s := reflect.Zero(t).Interface().(JSONSchemer).JSONSchema()
	if t.Name() == "" {
		return s
	}
	name, ok := g.names[t]
	if !ok {
		name = g.uniqueName(t)
		g.names[t] = name
		g.defs[name] = s
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	if t == nil {
		return map[string]any{}
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawMessageType:
		return map[string]any{}
	case durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	}
	if k := t.Kind(); k != reflect.Pointer && k != reflect.Interface {
		pt := reflect.PointerTo(t)
		if t.Implements(schemerType) {
			return g.described(t)
		}
		if t.Implements(marshalerType) || pt.Implements(marshalerType) {
			// Custom JSON encoding: the Go shape says nothing reliable.
			return map[string]any{}
		}
		if t.Implements(textMarshalerType) || pt.Implements(textMarshalerType) {
			return map[string]any{"type": "string"}
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := g.schema(t.Elem())
		return map[string]any{"anyOf": []any{inner, map[string]any{"type": "null"}}}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := map[string]any{"type": "integer"}
		if t.Kind() == reflect.Int64 || t.Kind() == reflect.Uint64 {
			s["format"] = "int64"
		}
		return s
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": []any{"array", "null"}, "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		name, ok := g.names[t]
		if !ok {
			name = g.uniqueName(t)
			g.names[t] = name
			g.defs[name] = map[string]any{} // placeholder: recursion stops here
			g.defs[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	default: // chan, func, complex: not JSON-encodable
		return map[string]any{}
	}
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// uniqueName names a component after its Go type: package.Type, with generic
// arguments flattened (Page[omnihub/order.Order] → api.Page_order.Order).
func (g *schemaGen) uniqueName(t reflect.Type) string {
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		args := name[i+1 : len(name)-1]
		var short []string
		for _, a := range strings.Split(args, ",") {
			short = append(short, a[strings.LastIndexByte(a, '/')+1:])
		}
		name = name[:i] + "_" + strings.Join(short, "_")
	}
	pkg := t.PkgPath()
	pkg = pkg[strings.LastIndexByte(pkg, '/')+1:]
	if pkg != "" {
		name = pkg + "." + name
	}
	name = nonName.ReplaceAllString(name, "_")
	base, n := name, 2
	for {
		if _, taken := g.defs[name]; !taken {
			return name
		}
		name = base + "_" + itoa(n)
		n++
	}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	sort.Strings(required)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// fields collects t's JSON properties; embedded structs without a tag are
// flattened as encoding/json does.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		var ps map[string]any
		if hasOpt(opts, "string") {
			ps = map[string]any{"type": "string"}
		} else {
			ps = g.schema(ft)
		}
		props[name] = ps
		if !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero") && ft.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}
