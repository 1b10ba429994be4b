package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"omnihub/auth"
	"omnihub/config"
	"omnihub/store/storetest"
)

// newEngineApp builds the whole application on a fresh database of the
// engine ("sqlite" or "postgres", which storetest skips when unreachable).
func newEngineApp(t *testing.T, engine string, opts Options) *App {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Jobs.BackoffBase, cfg.Jobs.BackoffMax = 50*time.Millisecond, time.Second
	if engine == "postgres" {
		cfg.DB = storetest.FreshPostgresURL(t)
	}
	opts.Migrate = true
	a, err := New(context.Background(), cfg, NewLogger(cfg.Log, io.Discard), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// forEachEngine runs fn as a subtest per storage engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.Name) })
	}
}

// auditRow is one audit_log row as the tests compare it.
type auditRow struct {
	Actor, Action, Resource, ResourceID string
	Before, After                       string
}

// auditOf returns the audit rows of the given resources, and every
// middleware fallback row (resource route:…), oldest first.
func auditOf(t *testing.T, a *App, resources ...string) []auditRow {
	t.Helper()
	rows, err := a.DB.Query(context.Background(), `SELECT actor, action, resource, resource_id, before_json, after_json FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		var before, after *string
		if err := rows.Scan(&r.Actor, &r.Action, &r.Resource, &r.ResourceID, &before, &after); err != nil {
			t.Fatal(err)
		}
		if before != nil {
			r.Before = *before
		}
		if after != nil {
			r.After = *after
		}
		if slices.Contains(resources, r.Resource) || strings.HasPrefix(r.Resource, "route:") {
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// jsonOf decodes a JSON object of an audit row (PostgreSQL answers jsonb
// in its own spacing, so rows are compared decoded).
func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("audit JSON %q: %v", s, err)
	}
	return m
}

// summary is "action resource id" per row.
func summary(rows []auditRow) string {
	var s []string
	for _, r := range rows {
		s = append(s, r.Action+" "+r.Resource+" "+r.ResourceID)
	}
	return strings.Join(s, "\n")
}

// Retrying a dead letter must not re-run a job that is not one: a completed
// shipment upload asked to be retried answers 409, stays completed, and
// nothing is audited; the dead letter itself is still retried.
func TestDeadLetterRetryIsForDeadLettersOnly(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newEngineApp(t, engine, Options{})
		ctx := context.Background()
		_, err := a.DB.Exec(ctx, `INSERT INTO river_job (id, args, attempt, kind, max_attempts, state, finalized_at)
			VALUES (51, '{"shop_id":"s1"}', 1, 'sync_upload_shipment', 10, 'completed', CURRENT_TIMESTAMP),
			(52, '{"shop_id":"s1"}', 2, 'sync_push_stock', 10, 'cancelled', CURRENT_TIMESTAMP),
			(53, '{"shop_id":"s1"}', 10, 'sync_push_stock', 10, 'discarded', CURRENT_TIMESTAMP)`)
		if err != nil {
			t.Fatal(err)
		}
		c := newAPIClient(t, a, "ops", auth.RoleOperator)
		for _, id := range []string{"51", "52"} {
			code, body := c.do("POST", "/api/v1/dead-letters/"+id+"/retry", "", nil)
			var p struct {
				Code   string `json:"code"`
				Detail string `json:"detail"`
			}
			_ = json.Unmarshal([]byte(body), &p)
			if code != http.StatusConflict || p.Code != "conflict" || !strings.Contains(body, "not a dead letter") {
				t.Fatalf("retry of job %s = %d %s, want 409 saying it is not a dead letter", id, code, body)
			}
		}
		for id, want := range map[int64]string{51: "completed", 52: "cancelled"} {
			var state string
			if err := a.DB.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&state); err != nil || state != want {
				t.Fatalf("job %d after a refused retry: %q %v, want %s", id, state, err, want)
			}
		}
		if code, body := c.do("POST", "/api/v1/dead-letters/53/retry", "", nil); code != http.StatusNoContent {
			t.Fatalf("retry of a dead letter = %d %s", code, body)
		}
		if got := summary(auditOf(t, a, "dead_letter")); got != "retry dead_letter 53" {
			t.Fatalf("audit rows:\n%s\nwant only the dead letter's retry", got)
		}
	})
}
