package auth

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"time"

	"omnihub/api"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

// Entry is one change for the audit log. Before and After are any
// JSON-encodable values (nil when there is no before, e.g. a create); the
// actor and the request id come from ctx.
type Entry struct {
	Action     string // verb, e.g. "create", "update", "cancel", "revoke"
	Resource   string // e.g. "order", "sku", "user"
	ResourceID string
	Before     any
	After      any
}

// AuditTx records e in tx, so the audit row commits or rolls back with the
// change it describes. Call it in the same InTx callback as the change.
func AuditTx(ctx context.Context, tx store.Tx, e Entry) error {
	if e.Action == "" || e.Resource == "" {
		return errs.E(errs.Internal, "audit entry needs an action and a resource")
	}
	before, err := jsonOrNil(e.Before)
	if err != nil {
		return err
	}
	after, err := jsonOrNil(e.After)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_log (id, at, actor, action, resource, resource_id, before_json, after_json, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		ids.New(), store.UTC(time.Now()), ActorFrom(ctx), e.Action, e.Resource, e.ResourceID, before, after, api.RequestID(ctx))
	if err != nil {
		return errs.Wrap(err, errs.Internal, "write audit log")
	}
	if mark, ok := ctx.Value(auditMarkKey{}).(*atomic.Bool); ok {
		mark.Store(true)
	}
	return nil
}

// auditMarkKey carries a flag the middleware uses to see whether a request
// wrote its own audit entry.
type auditMarkKey struct{}

func jsonOrNil(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) == 0 {
			return nil, nil
		}
		s := string(raw)
		return &s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "encode audit value")
	}
	s := string(b)
	return &s, nil
}

// AuditRecord is a stored audit log row.
type AuditRecord struct {
	ID         string          `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Resource   string          `json:"resource"`
	ResourceID string          `json:"resource_id"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
}

// AuditFilter selects audit rows; empty fields match everything. Cursor is
// the id of the last row of the previous page. Rows come newest first unless
// Oldest is set.
type AuditFilter struct {
	Resource   string
	ResourceID string
	Actor      string // exact, or a user name: also that user's token actions
	Cursor     string
	Limit      int
	Oldest     bool
}

// ListAudit returns a page of audit rows and the cursor of the next page
// ("" at the end).
func ListAudit(ctx context.Context, q store.Querier, f AuditFilter) ([]AuditRecord, string, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.Replace(cond, "?", "$"+itoa(len(args)), 1))
	}
	if f.Resource != "" {
		add("resource = ?", f.Resource)
	}
	if f.ResourceID != "" {
		add("resource_id = ?", f.ResourceID)
	}
	if f.Actor != "" {
		// A user's actions through its API tokens are recorded as
		// "name (token omh_…)"; filtering by the name finds those too.
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Actor)
		args = append(args, f.Actor, esc+" (token %")
		where = append(where, "(actor = $"+itoa(len(args)-1)+" OR actor LIKE $"+itoa(len(args))+` ESCAPE '\')`)
	}
	if f.Cursor != "" {
		if f.Oldest {
			add("id > ?", f.Cursor)
		} else {
			add("id < ?", f.Cursor)
		}
	}
	query := `SELECT id, at, actor, action, resource, resource_id, before_json, after_json, request_id FROM audit_log`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	dir := "DESC"
	if f.Oldest {
		dir = "ASC"
	}
	query += " ORDER BY id " + dir + " LIMIT $" + itoa(len(args))
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, "", errs.Wrap(err, errs.Internal, "read audit log")
	}
	defer rows.Close()
	out := []AuditRecord{}
	for rows.Next() {
		var r AuditRecord
		var before, after *string
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.Action, &r.Resource, &r.ResourceID, &before, &after, &r.RequestID); err != nil {
			return nil, "", errs.Wrap(err, errs.Internal, "read audit log")
		}
		if before != nil {
			r.Before = json.RawMessage(*before)
		}
		if after != nil {
			r.After = json.RawMessage(*after)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", errs.Wrap(err, errs.Internal, "read audit log")
	}
	next := ""
	if len(out) == f.Limit {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}
