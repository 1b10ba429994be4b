// Package api is OmniHub's HTTP API: routing, JSON and problem+json
// encoding, health and readiness, metrics and the middleware every request
// goes through. Handlers decode input, call a domain service and encode its
// answer; they hold no business logic.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"omnihub/errs"
	"omnihub/ids"
	"omnihub/jobs"
	"omnihub/store"
)

// HandlerFunc is an API handler; a returned error is written as problem+json.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route describes one registered route, for documentation and for tests
// that walk the router (authentication, permissions).
type Route struct {
	Method string
	Path   string
	// Permission required; empty for public routes (and for routes any
	// authenticated principal may call).
	Permission string
	Public     bool
	// Signed marks a public platform push endpoint that verifies the
	// platform's signature itself (PublicSigned, or HandleHTTP with public).
	Signed bool
	// Doc feeds the OpenAPI document (HandleOp, Describe).
	Doc Doc
}

// Options configure a Server.
type Options struct {
	Logger       *slog.Logger
	Registry     *prometheus.Registry
	DB           store.DB
	MaxBodyBytes int64
	Version      string
}

// Server is the HTTP API.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	routes  []Route
	metrics *httpMetrics
	// Authenticate, when set, wraps every non-public route (see package auth).
	Authenticate func(perm string, next http.Handler) http.Handler
	// AuditTx, when set, records a change made by one of the server's own
	// routes (dead-letter retry and skip) in the audit log, in tx, with the
	// acting principal of ctx (see auth.AuditTx, which internal/app wires
	// here). Without it those changes are not audited.
	AuditTx AuditFunc
}

// AuditFunc records one change in the audit log, in tx, so that the row
// commits or rolls back with the change. internal/app builds it over
// auth.AuditTx and hands it to the modules that cannot import package auth
// (this server, the order service): an entry written through it counts as
// the request's own audit row, so the authentication middleware adds no
// fallback row.
type AuditFunc func(ctx context.Context, tx store.Tx, e AuditEntry) error

// AuditEntry is one change for the audit log (the shape of auth.Entry,
// which package api cannot import).
type AuditEntry struct {
	// Actor, when set, names who acts instead of the principal of ctx: for
	// services given their actor explicitly (the order service's actor
	// argument, a CLI command's user). Empty: the principal of ctx.
	Actor      string
	Action     string
	Resource   string
	ResourceID string
	Before     any
	After      any
}

// New builds a server with the infrastructure routes registered.
func New(opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), metrics: newHTTPMetrics(opts.Registry)}
	s.Public("GET /healthz", s.healthz)
	s.Public("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}))
	s.routes = append(s.routes, Route{Method: "GET", Path: "/metrics", Public: true})
	s.registerJobs()
	s.HandleOp(Op{Method: "GET", Path: "/api/openapi.json", Public: true, Tags: []string{"system"},
		Summary: "This API's OpenAPI 3.1 document, generated from the registered routes"}, s.openAPI)
	return s
}

// Routes returns every registered route.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Public registers a route that needs no authentication.
func (s *Server) Public(pattern string, h HandlerFunc) {
	s.add(pattern, "", true, s.adapt(h))
}

// Handle registers a route that requires the given permission.
func (s *Server) Handle(pattern, permission string, h HandlerFunc) {
	s.add(pattern, permission, false, s.adapt(h))
}

// HandleHTTP registers a plain http.Handler (platform push receivers, which
// verify their own signatures, are public in this sense: a public HandleHTTP
// route is recorded as Signed, like PublicSigned).
func (s *Server) HandleHTTP(pattern, permission string, public bool, h http.Handler) {
	s.add(pattern, permission, public, h)
	if public {
		s.routes[len(s.routes)-1].Signed = true
	}
}

// PublicSigned registers a platform push endpoint: no OmniHub credentials,
// because h itself must verify the platform's signature and reject anything
// unsigned or stale. The router-walk test exempts only such routes (and
// health, readiness, metrics, the OpenAPI document and login) from auth.
func (s *Server) PublicSigned(pattern string, h http.Handler) {
	s.HandleHTTP(pattern, "", true, h)
}

func (s *Server) add(pattern, permission string, public bool, h http.Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		panic("api: route pattern needs a method: " + pattern)
	}
	s.routes = append(s.routes, Route{Method: method, Path: path, Permission: permission, Public: public})
	if !public {
		h = s.authenticated(permission, h)
	}
	s.mux.Handle(pattern, h)
}

func (s *Server) authenticated(perm string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Authenticate == nil {
			WriteError(w, r, errs.E(errs.Unauthorized, "authentication is not configured"))
			return
		}
		s.Authenticate(perm, next).ServeHTTP(w, r)
	})
}

func (s *Server) adapt(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			if errs.CodeOf(err) == errs.Internal {
				s.opts.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			WriteError(w, r, err)
		}
	})
}

// Handler is the root handler with all middleware applied.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.mux
	h = s.limitBody(h)
	h = securityHeaders(h)
	h = s.instrument(h)
	h = s.recoverPanics(h)
	return h
}

type ctxKey int

const requestIDKey ctxKey = 1

// RequestID returns the id of the request being served.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := r.Header.Get("X-Request-Id")
		if rid == "" || len(rid) > 64 {
			rid = ids.New()
		}
		w.Header().Set("X-Request-Id", rid)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, rid))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.opts.Logger.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(p), "request_id", rid)
				WriteError(w, r, errs.E(errs.Internal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.opts.MaxBodyBytes {
			WriteError(w, r, errs.Wrap(&http.MaxBytesError{Limit: s.opts.MaxBodyBytes}, errs.Invalid,
				"request body too large (limit %d bytes)", s.opts.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omnihub_http_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "omnihub_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "omnihub_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight)
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inflight.Inc()
		defer s.metrics.inflight.Dec()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by ServeMux on match
		if route == "" {
			route = "unmatched"
		} else if _, p, ok := strings.Cut(route, " "); ok {
			route = p
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Inc()
		s.metrics.duration.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.DB.Ping(ctx); err != nil {
		return errs.Wrap(err, errs.Unavailable, "database not reachable")
	}
	return WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "engine": string(s.opts.DB.Engine())})
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Code      errs.Code         `json:"code"`
	Fields    map[string]string `json:"fields,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// WriteError writes err as application/problem+json, mapping its code once.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	code := errs.CodeOf(err)
	status := errs.HTTPStatus(code)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		// An oversized body is invalid input with its own status, 413.
		code = errs.Invalid
		status = http.StatusRequestEntityTooLarge
		err = errs.E(errs.Invalid, "request body too large (limit %d bytes)", mbe.Limit)
	}
	p := Problem{
		Type:   "https://omnihub.dev/problems/" + string(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: errs.MessageOf(err),
		Code:   code,
		Fields: errs.FieldsOf(err),
	}
	if r != nil {
		p.RequestID = RequestID(r.Context())
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// DecodeJSON strictly decodes a request body into v: unknown fields, trailing
// data and bodies over the limit are invalid input.
func DecodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errs.E(errs.Invalid, "content type must be application/json, not %q", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			// Keep the MaxBytesError in the chain: WriteError answers 413.
			return errs.Wrap(mbe, errs.Invalid, "request body too large (limit %d bytes)", mbe.Limit)
		}
		if errors.Is(err, io.EOF) {
			return errs.E(errs.Invalid, "request body is empty")
		}
		return jsonError(err)
	}
	if dec.More() {
		return errs.E(errs.Invalid, "request body has data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.E(errs.Invalid, "request body has data after the JSON value")
	}
	return nil
}

// jsonError turns a decoding failure into a clear invalid-input error that
// names the position or the field at fault.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var ee *errs.Error
	switch {
	case errors.As(err, &ee) && ee.Code == errs.Invalid:
		// A type's own UnmarshalJSON already said what is wrong, and where.
		return err
	case errors.As(err, &se):
		return &errs.Error{Code: errs.Invalid, Message: fmt.Sprintf("malformed JSON body at byte %d", se.Offset), Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &errs.Error{Code: errs.Invalid, Message: "malformed JSON body: truncated", Err: err}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		reason := "must be " + te.Type.String() + ", not " + te.Value
		return &errs.Error{Code: errs.Invalid, Message: "malformed JSON body: " + field + " " + reason,
			Fields: map[string]string{field: reason}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &errs.Error{Code: errs.Invalid, Message: "unknown field " + strconv.Quote(field),
			Fields: map[string]string{field: "unknown field"}}
	}
	return errs.Wrap(err, errs.Invalid, "malformed JSON body")
}

// PathInt64 parses a numeric path parameter.
func PathInt64(r *http.Request, name string) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || v <= 0 {
		return 0, errs.WithField(name, "must be a positive integer")
	}
	return v, nil
}

// QueryInt parses an optional integer query parameter within [min, max].
func QueryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, errs.WithField(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
	}
	return v, nil
}

// Page is a page of a cursor-paginated list.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Server) registerJobs() {
	s.Handle("GET /api/v1/dead-letters", "jobs.read", func(w http.ResponseWriter, r *http.Request) error {
		limit, err := QueryInt(r, "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		var after int64
		if c := r.URL.Query().Get("cursor"); c != "" {
			after, err = strconv.ParseInt(c, 10, 64)
			if err != nil {
				return errs.WithField("cursor", "malformed")
			}
		}
		items, err := s.opts.DB.Jobs().DeadLetters(r.Context(), after, limit)
		if err != nil {
			return err
		}
		page := Page[jobs.DeadLetter]{Items: items}
		if len(items) == limit {
			page.NextCursor = strconv.FormatInt(items[len(items)-1].ID, 10)
		}
		return WriteJSON(w, http.StatusOK, page)
	})
	s.Handle("POST /api/v1/dead-letters/{id}/retry", "jobs.write", s.deadLetterAction("retry", func(ctx context.Context, id int64) error {
		return s.opts.DB.Jobs().Retry(ctx, id)
	}))
	s.Handle("POST /api/v1/dead-letters/{id}/skip", "jobs.write", s.deadLetterAction("skip", func(ctx context.Context, id int64) error {
		return s.opts.DB.Jobs().Skip(ctx, id)
	}))
	tags := []string{"jobs"}
	s.Describe("GET /api/v1/dead-letters", Doc{Summary: "Jobs that exhausted their retries, oldest first, with their last error",
		Tags: tags, Query: []string{"limit", "cursor"}, Response: Page[jobs.DeadLetter]{}})
	s.Describe("POST /api/v1/dead-letters/{id}/retry", Doc{Summary: "Run a dead letter again now (audited)", Tags: tags, Status: http.StatusNoContent})
	s.Describe("POST /api/v1/dead-letters/{id}/skip", Doc{Summary: "Drop a dead letter a person decided not to retry (audited)", Tags: tags, Status: http.StatusNoContent})
}

// deadLetterAction is the handler of a dead-letter action (retry, skip): it
// does it and records it in the audit log with the acting user, the job as
// it was before, as `omnihub dead-letters retry|skip` does.
func (s *Server) deadLetterAction(verb string, do func(ctx context.Context, id int64) error) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := PathInt64(r, "id")
		if err != nil {
			return err
		}
		ctx := r.Context()
		before, err := s.opts.DB.Jobs().Get(ctx, id)
		if err != nil {
			return err
		}
		if err := do(ctx, id); err != nil {
			return err
		}
		if s.AuditTx != nil {
			// Done is done: record it even if the caller has gone.
			ctx := context.WithoutCancel(ctx)
			err := s.opts.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				return s.AuditTx(ctx, tx, AuditEntry{Action: verb, Resource: "dead_letter", ResourceID: strconv.FormatInt(id, 10),
					Before: map[string]any{"kind": before.Kind, "state": before.State, "attempts": before.Attempt, "errors": len(before.Errors)}})
			})
			if err != nil {
				return errs.Wrap(err, errs.CodeOf(err), "%s job %d done, but not audited", verb, id)
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
