package order

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"omnihub/api"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/rules"
	"omnihub/store"
)

// auditLog records one change in the shared audit log, in tx: through
// Options.AuditTx when the application provides it (then the request counts
// as audited and the authentication middleware adds no row of its own),
// else by writing the row itself.
func (s *Service) auditLog(ctx context.Context, tx store.Tx, at time.Time, actor, action, resource, id string, before, after any) error {
	if s.opts.AuditTx != nil {
		err := s.opts.AuditTx(ctx, tx, api.AuditEntry{Actor: actor, Action: action, Resource: resource, ResourceID: id, Before: before, After: after})
		return errs.Wrap(err, errs.CodeOf(err), "audit %s %s", action, id)
	}
	enc := func(v any) *string {
		if v == nil {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		s := string(b)
		return &s
	}
	if actor == "" {
		actor = "unknown"
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (id, at, actor, action, resource, resource_id, before_json, after_json, request_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		ids.New(), at, actor, action, resource, id, enc(before), enc(after), api.RequestID(ctx))
	return errs.Wrap(err, errs.Internal, "write audit log")
}

// change runs fn on one order in a transaction and stores the result, its
// events and an audit-log row.
func (s *Service) change(ctx context.Context, id, actor, action string, fn func(ctx context.Context, tx store.Tx, b *batch, o *Order) error) (*Order, error) {
	rs, err := s.rulesFor(ctx)
	if err != nil {
		return nil, err
	}
	var out *Order
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		o, err := lockOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		before := o.Masked()
		b, err := s.newBatch(ctx, tx, rs, o)
		if err != nil {
			return err
		}
		if err := fn(ctx, tx, b, o); err != nil {
			return err
		}
		o.UpdatedAt = b.now
		if err := s.saveOrder(ctx, tx, o); err != nil {
			return err
		}
		if err := writeEvents(ctx, tx, b.events); err != nil {
			return err
		}
		if action != "" {
			if err := s.auditLog(ctx, tx, b.now, actor, action, "order", o.ID, before, o.Masked()); err != nil {
				return err
			}
		}
		out = o
		return nil
	})
	return out, err
}

// newBatch prepares the shared state for re-processing one order.
func (s *Service) newBatch(ctx context.Context, tx store.Tx, rs *ruleSet, o *Order) (*batch, error) {
	b := &batch{now: s.now(), rs: rs, phoneCounts: map[string]int{}, mergeable: map[string]*Order{}}
	if o.phoneKey != "" {
		cutoff := b.now.Add(-s.opts.RiskWindow)
		if err := s.loadPhoneCounts(ctx, tx, map[string]bool{o.phoneKey: true}, cutoff, b.phoneCounts); err != nil {
			return nil, err
		}
		if o.PaidAt != nil && !o.PaidAt.Before(cutoff) && b.phoneCounts[o.phoneKey] > 0 {
			b.phoneCounts[o.phoneKey]--
		}
	}
	return b, nil
}

// Transition moves an order to another state (fulfilment, after-sales,
// manual). Illegal transitions are errs.Conflict.
func (s *Service) Transition(ctx context.Context, id string, to Status, actor, reason string) (*Order, error) {
	return s.change(ctx, id, actor, "order.transition", func(ctx context.Context, tx store.Tx, b *batch, o *Order) error {
		return s.transition(ctx, tx, b, o, to, actor, reason)
	})
}

// TransitionTx is Transition inside the caller's transaction (no audit-log
// row: the caller owns the user action).
func (s *Service) TransitionTx(ctx context.Context, tx store.Tx, id string, to Status, actor, reason string) (*Order, error) {
	o, err := lockOrder(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	b := &batch{now: s.now(), phoneCounts: map[string]int{}, mergeable: map[string]*Order{}}
	if err := s.transition(ctx, tx, b, o, to, actor, reason); err != nil {
		return nil, err
	}
	if err := s.saveOrder(ctx, tx, o); err != nil {
		return nil, err
	}
	return o, writeEvents(ctx, tx, b.events)
}

// ShipTx marks an order shipped in the caller's transaction; its
// reservations are consumed (inventory ShipTx).
func (s *Service) ShipTx(ctx context.Context, tx store.Tx, id, actor string) (*Order, error) {
	return s.TransitionTx(ctx, tx, id, Shipped, actor, "shipped")
}

// Cancel cancels an order and releases its stock.
func (s *Service) Cancel(ctx context.Context, id, actor, reason string) (*Order, error) {
	return s.change(ctx, id, actor, "order.cancel", func(ctx context.Context, tx store.Tx, b *batch, o *Order) error {
		return s.transition(ctx, tx, b, o, Cancelled, actor, reason)
	})
}

// Fix is a person's correction of a held or excepted order.
type Fix struct {
	Receiver *Receiver `json:"receiver,omitempty"`
	Lines    []LineFix `json:"lines,omitempty"`
	// Replay re-runs the audit after the fix.
	Replay bool `json:"replay,omitempty"`
}

// LineFix binds a line to a SKU and/or corrects its quantity.
type LineFix struct {
	LineNo   int    `json:"line_no"`
	SKUID    string `json:"sku_id,omitempty"`
	Quantity int64  `json:"quantity,omitempty"`
}

func requireQueue(o *Order, what string) error {
	if !inQueue(o.Status) && o.Status != Paid {
		return errs.E(errs.Conflict, "order %s is %s: only held, excepted or paid orders can be %s", o.ID, o.Status, what).WithField("status", string(o.Status))
	}
	return nil
}

// FixOrder applies a person's correction (exception queue).
func (s *Service) FixOrder(ctx context.Context, id string, f Fix, actor string) (*Order, error) {
	return s.change(ctx, id, actor, "order.fix", func(ctx context.Context, tx store.Tx, b *batch, o *Order) error {
		if err := requireQueue(o, "fixed"); err != nil {
			return err
		}
		var what []string
		if f.Receiver != nil {
			r := *f.Receiver
			if strings.TrimSpace(r.Province) == "" || strings.TrimSpace(r.Detail) == "" {
				return errs.WithField("receiver", "province and detail are required")
			}
			o.Receiver = r
			o.computeKeys()
			what = append(what, "receiver")
		}
		for _, lf := range f.Lines {
			if lf.LineNo < 1 || lf.LineNo > len(o.Lines) {
				return errs.WithField("lines.line_no", "no such line")
			}
			l := &o.Lines[lf.LineNo-1]
			if lf.SKUID != "" {
				l.SKUID = lf.SKUID
			}
			if lf.Quantity != 0 {
				if lf.Quantity < 0 || lf.Quantity > MaxQuantity {
					return errs.WithField("lines.quantity", "must be 1–1000000")
				}
				l.Quantity = lf.Quantity
			}
			what = append(what, "line "+itoa(lf.LineNo))
		}
		if len(what) == 0 {
			return errs.E(errs.Invalid, "nothing to fix")
		}
		b.event(o, "fix", "", "", actor, strings.Join(what, ", "), "")
		if f.Replay {
			return s.audit(ctx, tx, b, o, actor)
		}
		return nil
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Approve releases a held or excepted order by a person's decision: the
// audit rules are not re-run, but the order must still be routable, every
// line bound and its stock available.
func (s *Service) Approve(ctx context.Context, id, actor, reason string) (*Order, error) {
	return s.change(ctx, id, actor, "order.approve", func(ctx context.Context, tx store.Tx, b *batch, o *Order) error {
		if err := requireQueue(o, "approved"); err != nil {
			return err
		}
		for _, l := range o.Lines {
			if l.SKUID == "" {
				return errs.E(errs.Conflict, "line %d (platform SKU %s) is not bound to a SKU: fix it first", l.LineNo, l.PlatformSKUID)
			}
		}
		env := s.env(ctx, tx, o, b)
		r, detail, err := s.allocate(ctx, tx, b, o, env)
		if err != nil {
			return err
		}
		if r != "" {
			return errs.E(errs.Conflict, "cannot approve: %s (%s)", r, detail).WithField("reason", r)
		}
		b.event(o, "audit", "", "", actor, "manual approval", reason)
		if err := s.transition(ctx, tx, b, o, Approved, actor, reason); err != nil {
			return err
		}
		return s.merge(ctx, tx, b, o, actor)
	})
}

// Reject cancels an order from the exception queue.
func (s *Service) Reject(ctx context.Context, id, actor, reason string) (*Order, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, errs.WithField("reason", "is required to reject an order")
	}
	return s.change(ctx, id, actor, "order.reject", func(ctx context.Context, tx store.Tx, b *batch, o *Order) error {
		if err := requireQueue(o, "rejected"); err != nil {
			return err
		}
		return s.transition(ctx, tx, b, o, Cancelled, actor, reason)
	})
}

// Replay re-runs the automatic audit of a held, excepted or paid order.
func (s *Service) Replay(ctx context.Context, id, actor string) (*Order, error) {
	return s.change(ctx, id, actor, "order.replay", func(ctx context.Context, tx store.Tx, b *batch, o *Order) error {
		if err := requireQueue(o, "replayed"); err != nil {
			return err
		}
		return s.audit(ctx, tx, b, o, actor)
	})
}

// ReplayUnbound re-audits, in tx, the excepted orders of a shop waiting for
// a binding of platformSKUID. The app calls it from catalog's OnBound hook,
// so a binding releases its orders in the transaction that creates it.
func (s *Service) ReplayUnbound(ctx context.Context, tx store.Tx, shopID, platformSKUID string) (int, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT o.id FROM orders o JOIN order_lines l ON l.order_id = o.id
WHERE o.shop_id = $1 AND o.status = 'exception' AND l.platform_sku_id = $2 AND l.sku_id = '' ORDER BY o.id`, shopID, platformSKUID)
	if err != nil {
		return 0, errs.Wrap(err, errs.Internal, "find orders waiting for a binding")
	}
	var idsList []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, errs.Wrap(err, errs.Internal, "find orders waiting for a binding")
		}
		idsList = append(idsList, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, errs.Wrap(err, errs.Internal, "find orders waiting for a binding")
	}
	if len(idsList) == 0 {
		return 0, nil
	}
	rs, err := s.rulesFor(ctx)
	if err != nil {
		return 0, err
	}
	for _, id := range idsList {
		o, err := getOrder(ctx, tx, id)
		if err != nil {
			return 0, err
		}
		b, err := s.newBatch(ctx, tx, rs, o)
		if err != nil {
			return 0, err
		}
		if err := s.audit(ctx, tx, b, o, "system"); err != nil {
			return 0, err
		}
		if err := s.saveOrder(ctx, tx, o); err != nil {
			return 0, err
		}
		if err := writeEvents(ctx, tx, b.events); err != nil {
			return 0, err
		}
	}
	return len(idsList), nil
}

// Query filters a list of orders.
type Query struct {
	ShopID      string
	Status      []Status
	HoldReason  string
	CreatedFrom *time.Time
	CreatedTo   *time.Time
	// Search matches a platform order id or a receiver phone exactly.
	Search string
	Cursor string
	Limit  int
}

// List returns orders, newest first, a page at a time.
func (s *Service) List(ctx context.Context, q Query) (api.Page[Order], error) {
	limit := q.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	sql, args := listQuery(s.db.Engine(), q, limit)
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return api.Page[Order]{}, errs.Wrap(err, errs.Internal, "list orders")
	}
	var os []*Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return api.Page[Order]{}, errs.Wrap(err, errs.Internal, "list orders")
		}
		os = append(os, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return api.Page[Order]{}, errs.Wrap(err, errs.Internal, "list orders")
	}
	page := api.Page[Order]{Items: []Order{}}
	if len(os) > limit {
		os = os[:limit]
		page.NextCursor = os[limit-1].ID
	}
	if err := loadLines(ctx, s.db, os); err != nil {
		return page, err
	}
	for _, o := range os {
		page.Items = append(page.Items, *o)
	}
	return page, nil
}

// Exceptions lists the exception queue (held and excepted orders).
func (s *Service) Exceptions(ctx context.Context, q Query) (api.Page[Order], error) {
	q.Status = []Status{Held, Exception}
	return s.List(ctx, q)
}

// Get returns an order with its history and the platform versions received.
func (s *Service) Get(ctx context.Context, id string) (Detail, error) {
	o, err := getOrder(ctx, s.db, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Order: *o, Events: []Event{}, Versions: []Version{}}
	rows, err := s.db.Query(ctx, `SELECT id, at, kind, from_status, to_status, actor, reason, detail FROM order_events WHERE order_id = $1 ORDER BY id`, id)
	if err != nil {
		return d, errs.Wrap(err, errs.Internal, "load order history")
	}
	for rows.Next() {
		var e Event
		var from, to string
		if err := rows.Scan(&e.ID, &e.At, &e.Kind, &from, &to, &e.Actor, &e.Reason, &e.Detail); err != nil {
			rows.Close()
			return d, errs.Wrap(err, errs.Internal, "load order history")
		}
		e.From, e.To = Status(from), Status(to)
		d.Events = append(d.Events, e)
	}
	rows.Close()
	rows, err = s.db.Query(ctx, `SELECT payload_hash, platform_modified_at, platform_status, applied, received_at, raw FROM order_versions WHERE order_id = $1 ORDER BY platform_modified_at, payload_hash`, id)
	if err != nil {
		return d, errs.Wrap(err, errs.Internal, "load order versions")
	}
	defer rows.Close()
	for rows.Next() {
		var v Version
		if err := rows.Scan(&v.PayloadHash, &v.PlatformModifiedAt, &v.PlatformStatus, &v.Applied, &v.ReceivedAt, &v.Raw); err != nil {
			return d, errs.Wrap(err, errs.Internal, "load order versions")
		}
		d.Versions = append(d.Versions, v)
	}
	return d, rows.Err()
}

// FindByPlatformID returns the order of a shop's platform order id.
func (s *Service) FindByPlatformID(ctx context.Context, shopID, platformOrderID string) (*Order, error) {
	var id string
	err := s.db.QueryRow(ctx, `SELECT id FROM orders WHERE shop_id = $1 AND platform_order_id = $2`, shopID, platformOrderID).Scan(&id)
	if err != nil {
		return nil, store.NotFoundIfNoRows(err, "order %s of shop %s not found", platformOrderID, shopID)
	}
	return getOrder(ctx, s.db, id)
}

// Rules lists every stored rule.
func (s *Service) Rules(ctx context.Context) ([]Rule, error) { return listRules(ctx, s.db) }

// SaveRule creates (empty ID) or replaces a rule after compiling it. The
// target of a routing rule must name an existing warehouse, by id or by
// code (Options.LookupWarehouse); the id is stored. An unknown warehouse is
// errs.Invalid naming it in the target field.
func (s *Service) SaveRule(ctx context.Context, r Rule, actor string) (Rule, error) {
	if _, err := r.Validate(); err != nil {
		return Rule{}, err
	}
	if r.Kind == KindRoute && s.opts.LookupWarehouse != nil {
		want := strings.TrimSpace(r.Target)
		id, err := s.opts.LookupWarehouse(ctx, want)
		switch {
		case errs.Is(err, errs.NotFound):
			return Rule{}, errs.E(errs.Invalid, "route rule %q: no warehouse %q (target is a warehouse id or code)", r.Name, want).
				WithField("target", fmt.Sprintf("no warehouse %q", want))
		case err != nil:
			return Rule{}, errs.Wrap(err, errs.CodeOf(err), "check the target of route rule %q", r.Name)
		}
		r.Target = id
	}
	now := s.now()
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var before *Rule
		if r.ID == "" {
			r.ID = ids.New()
			r.CreatedAt = now
		} else {
			var old Rule
			err := tx.QueryRow(ctx, `SELECT id, kind, name, expression, action, reason, tag, target, priority, enabled, created_at, updated_at FROM order_rules WHERE id = $1`, r.ID).
				Scan(&old.ID, &old.Kind, &old.Name, &old.Expression, &old.Action, &old.Reason, &old.Tag, &old.Target, &old.Priority, &old.Enabled, &old.CreatedAt, &old.UpdatedAt)
			if err != nil {
				return store.NotFoundIfNoRows(err, "rule %s not found", r.ID)
			}
			before, r.CreatedAt = &old, old.CreatedAt
		}
		r.UpdatedAt = now
		_, err := tx.Exec(ctx, `INSERT INTO order_rules (id, kind, name, expression, action, reason, tag, target, priority, enabled, created_at, updated_at)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, expression = excluded.expression, action = excluded.action,
reason = excluded.reason, tag = excluded.tag, target = excluded.target, priority = excluded.priority, enabled = excluded.enabled, updated_at = excluded.updated_at`,
			r.ID, r.Kind, r.Name, r.Expression, r.Action, r.Reason, r.Tag, r.Target, r.Priority, r.Enabled, r.CreatedAt, r.UpdatedAt)
		if store.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "a %s rule named %q exists", r.Kind, r.Name).WithField("name", "taken")
		}
		if err != nil {
			return errs.Wrap(err, errs.Internal, "save rule")
		}
		var b any
		if before != nil {
			b = before
		}
		return s.auditLog(ctx, tx, now, actor, "order_rule.save", "order_rule", r.ID, b, r)
	})
	if err != nil {
		return Rule{}, err
	}
	s.invalidateRules()
	return r, nil
}

// DeleteRule removes a rule.
func (s *Service) DeleteRule(ctx context.Context, id, actor string) error {
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Exec(ctx, `DELETE FROM order_rules WHERE id = $1`, id)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "delete rule")
		}
		if n == 0 {
			return errs.E(errs.NotFound, "rule %s not found", id)
		}
		return s.auditLog(ctx, tx, s.now(), actor, "order_rule.delete", "order_rule", id, map[string]string{"id": id}, nil)
	})
	if err == nil {
		s.invalidateRules()
	}
	return err
}

// DryRunRequest evaluates a rule against a sample order without storing it.
type DryRunRequest struct {
	Expression string `json:"expression"`
	// Order is a sample platform order; or Env gives the rule fields directly.
	Order *Order `json:"order,omitempty"`
	Env   *Env   `json:"env,omitempty"`
}

// DryRunResult is the rule's value on the sample and the environment it saw.
type DryRunResult struct {
	rules.DryRunResult
	Env Env `json:"env"`
}

// DryRun evaluates an expression against a sample.
func (s *Service) DryRun(ctx context.Context, req DryRunRequest) (DryRunResult, error) {
	var env Env
	switch {
	case req.Env != nil:
		env = *req.Env
	case req.Order != nil:
		o := *req.Order
		o.computeKeys()
		rs, err := s.rulesFor(ctx)
		if err != nil {
			return DryRunResult{}, err
		}
		env = s.env(ctx, s.db, &o, &batch{rs: rs, phoneCounts: map[string]int{}})
	default:
		return DryRunResult{}, errs.WithField("order", "a sample order or env is required")
	}
	return DryRunResult{DryRunResult: rules.DryRun(req.Expression, env, rules.Bool), Env: env}, nil
}

// Blacklist kinds.
const (
	BlacklistPhone        = "phone"
	BlacklistReceiverName = "receiver_name"
	BlacklistBuyer        = "buyer"
)

// BlacklistEntry is one blocked receiver, phone or buyer.
type BlacklistEntry struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// AddBlacklist blocks a phone, receiver name or buyer id.
func (s *Service) AddBlacklist(ctx context.Context, e BlacklistEntry, actor string) (BlacklistEntry, error) {
	switch e.Kind {
	case BlacklistPhone:
		e.Value = normPhone(e.Value)
	case BlacklistReceiverName, BlacklistBuyer:
		e.Value = strings.TrimSpace(e.Value)
	default:
		return e, errs.WithField("kind", "must be phone, receiver_name or buyer")
	}
	if e.Value == "" || len(e.Value) > 200 {
		return e, errs.WithField("value", "is required (at most 200 bytes)")
	}
	e.ID, e.CreatedAt = ids.New(), s.now()
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO order_blacklist (id, kind, value, note, created_at) VALUES ($1,$2,$3,$4,$5)`, e.ID, e.Kind, e.Value, e.Note, e.CreatedAt)
		if store.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "already blacklisted")
		}
		if err != nil {
			return errs.Wrap(err, errs.Internal, "blacklist")
		}
		return s.auditLog(ctx, tx, e.CreatedAt, actor, "order_blacklist.add", "order_blacklist", e.ID, nil, map[string]string{"kind": e.Kind})
	})
	if err == nil {
		s.invalidateRules()
	}
	return e, err
}

// Blacklist lists the blocked phones, receiver names and buyers.
func (s *Service) Blacklist(ctx context.Context) ([]BlacklistEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT id, kind, value, note, created_at FROM order_blacklist ORDER BY kind, value`)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list blacklist")
	}
	defer rows.Close()
	out := []BlacklistEntry{}
	for rows.Next() {
		var e BlacklistEntry
		if err := rows.Scan(&e.ID, &e.Kind, &e.Value, &e.Note, &e.CreatedAt); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "list blacklist")
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RemoveBlacklist unblocks an entry.
func (s *Service) RemoveBlacklist(ctx context.Context, id, actor string) error {
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Exec(ctx, `DELETE FROM order_blacklist WHERE id = $1`, id)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "unblacklist")
		}
		if n == 0 {
			return errs.E(errs.NotFound, "blacklist entry %s not found", id)
		}
		return s.auditLog(ctx, tx, s.now(), actor, "order_blacklist.remove", "order_blacklist", id, map[string]string{"id": id}, nil)
	})
	if err == nil {
		s.invalidateRules()
	}
	return err
}

// listQuery builds List's statement for a page of limit orders (it asks for
// one more, to know whether there is a next page).
//
// On SQLite, which plans without statistics, a status filter or a search
// keeps the shop filter off the planner's choice (+shop_id): otherwise it
// walks the shop's (shop_id, id) index to avoid a sort, reading every order
// of the shop to find the few held ones or the one searched for. With the
// status index it reads only the orders in those statuses; a search probes
// the platform order id and phone indexes (TestListQueriesProbe).
func listQuery(e store.Engine, q Query, limit int) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + itoa(len(args))
	}
	if q.ShopID != "" {
		col := "shop_id"
		if e == store.SQLite && (len(q.Status) > 0 || q.Search != "") {
			col = "+shop_id"
		}
		where = append(where, col+" = "+arg(q.ShopID))
	}
	if len(q.Status) > 0 {
		var ph []string
		for _, st := range q.Status {
			ph = append(ph, arg(string(st)))
		}
		where = append(where, "status IN ("+strings.Join(ph, ",")+")")
	}
	if q.HoldReason != "" {
		where = append(where, "(',' || hold_reasons || ',') LIKE "+arg("%,"+q.HoldReason+",%"))
	}
	if q.CreatedFrom != nil {
		where = append(where, "platform_created_at >= "+arg(store.UTC(*q.CreatedFrom)))
	}
	if q.CreatedTo != nil {
		where = append(where, "platform_created_at < "+arg(store.UTC(*q.CreatedTo)))
	}
	if q.Search != "" {
		where = append(where, "(platform_order_id = "+arg(q.Search)+" OR phone_key = "+arg(phoneKey(q.Search))+")")
	}
	if q.Cursor != "" {
		where = append(where, "id < "+arg(q.Cursor))
	}
	sql := `SELECT ` + orderCols + ` FROM orders`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	return sql + " ORDER BY id DESC LIMIT " + itoa(limit+1), args
}
