package aftersales

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"omnihub/errs"
	"omnihub/store"
)

// Filter selects cases for List. Zero fields match everything.
type Filter struct {
	ShopID          string
	States          []State
	Type            Type
	PlatformOrderID string
	// OpenOnly keeps cases that still need someone to act.
	OpenOnly bool
	// CreatedBefore keeps cases older than a time (age filters).
	CreatedBefore time.Time
	// After is the cursor: the last id of the previous page (ids sort by time).
	After string
	Limit int
}

// listQuery is List's statement and arguments for f (f.Limit set) on
// engine e. A filter on the platform order id searches
// aftersales_cases_platform_order, a shop's list aftersales_cases_shop in id
// order (TestListByPlatformOrderProbes, TestListByShopProbes). With both, on
// SQLite (which plans without statistics) the shop filter is kept off the
// planner's choice (+shop_id): it would rather walk the shop's cases to
// avoid sorting the few of one order.
func listQuery(e store.Engine, f Filter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.ShopID != "" {
		if e == store.SQLite && f.PlatformOrderID != "" {
			add("+shop_id = ?", f.ShopID)
		} else {
			add("shop_id = ?", f.ShopID)
		}
	}
	states := f.States
	if f.OpenOnly && len(states) == 0 {
		for _, st := range States {
			if st.Open() {
				states = append(states, st)
			}
		}
	}
	if len(states) > 0 {
		var ph []string
		for _, st := range states {
			args = append(args, string(st))
			ph = append(ph, "$"+strconv.Itoa(len(args)))
		}
		where = append(where, "state IN ("+strings.Join(ph, ",")+")")
	}
	if f.Type != "" {
		add("type = ?", string(f.Type))
	}
	if f.PlatformOrderID != "" {
		add("platform_order_id = ?", f.PlatformOrderID)
	}
	if !f.CreatedBefore.IsZero() {
		add("created_at < ?", f.CreatedBefore.UTC())
	}
	if f.After != "" {
		add("id < ?", f.After)
	}
	q := `SELECT ` + caseColumns + ` FROM aftersales_cases`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + strconv.Itoa(f.Limit)
	return q, args
}

// List returns cases newest first, without their history.
func (s *Service) List(ctx context.Context, f Filter) ([]Case, string, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	q, args := listQuery(s.db.Engine(), f)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, "", errs.Wrap(err, errs.Internal, "list cases")
	}
	defer rows.Close()
	out := []Case{}
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, "", errs.Wrap(err, errs.Internal, "scan case")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", errs.Wrap(err, errs.Internal, "list cases")
	}
	next := ""
	if len(out) == f.Limit {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// OpenBucket counts open cases in one state by age.
type OpenBucket struct {
	State State `json:"state"`
	Count int64 `json:"count"`
	// By age since the case was opened.
	Under24h int64 `json:"under_24h"`
	Days1to3 int64 `json:"days_1_to_3"`
	Over3d   int64 `json:"over_3d"`
	// Oldest is when the oldest case in this state was opened.
	Oldest time.Time `json:"oldest"`
}

// OpenByStatus summarises the open cases of a shop (all shops if empty)
// by state and age, for the shop's and the warehouse's work queues.
func (s *Service) OpenByStatus(ctx context.Context, shopID string) ([]OpenBucket, error) {
	now := s.now()
	d1, d3 := now.Add(-24*time.Hour), now.Add(-72*time.Hour)
	var ph []string
	args := []any{d1, d3, shopID}
	for _, st := range States {
		if st.Open() {
			args = append(args, string(st))
			ph = append(ph, "$"+strconv.Itoa(len(args)))
		}
	}
	rows, err := s.db.Query(ctx, `SELECT state, COUNT(*),
		SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END),
		SUM(CASE WHEN created_at < $1 AND created_at >= $2 THEN 1 ELSE 0 END),
		SUM(CASE WHEN created_at < $2 THEN 1 ELSE 0 END),
		MIN(created_at)
		FROM aftersales_cases WHERE ($3 = '' OR shop_id = $3) AND state IN (`+strings.Join(ph, ",")+`)
		GROUP BY state`, args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "summarise open cases")
	}
	defer rows.Close()
	byState := map[State]OpenBucket{}
	for rows.Next() {
		var b OpenBucket
		if err := rows.Scan(&b.State, &b.Count, &b.Under24h, &b.Days1to3, &b.Over3d, &b.Oldest); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan open cases")
		}
		byState[b.State] = b
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "summarise open cases")
	}
	out := []OpenBucket{}
	for _, st := range States {
		if b, ok := byState[st]; ok {
			out = append(out, b)
		}
	}
	return out, nil
}

// ReasonCount is how often a reason was given.
type ReasonCount struct {
	Reason string `json:"reason"`
	Type   Type   `json:"type"`
	Count  int64  `json:"count"`
	Amount int64  `json:"amount"` // fen asked for
}

// ReturnReasons counts cases by reason and type opened since a time.
func (s *Service) ReturnReasons(ctx context.Context, shopID string, since time.Time) ([]ReasonCount, error) {
	rows, err := s.db.Query(ctx, `SELECT reason, type, COUNT(*), COALESCE(SUM(refund_amount), 0)
		FROM aftersales_cases WHERE ($1 = '' OR shop_id = $1) AND created_at >= $2
		GROUP BY reason, type ORDER BY COUNT(*) DESC, reason, type`, shopID, since.UTC())
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "count return reasons")
	}
	defer rows.Close()
	out := []ReasonCount{}
	for rows.Next() {
		var r ReasonCount
		if err := rows.Scan(&r.Reason, &r.Type, &r.Count, &r.Amount); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan return reasons")
		}
		out = append(out, r)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "count return reasons")
}

// DefectRate is the QC outcome of one SKU's returned units.
type DefectRate struct {
	SKUID     string `json:"sku_id"`
	Inspected int64  `json:"inspected"`
	Defective int64  `json:"defective"`
	// PerMille is defective units per thousand inspected (integer, no floats).
	PerMille int64 `json:"per_mille"`
}

// DefectRates returns, per SKU, how many returned units were inspected
// since a time and how many were defective, worst first.
func (s *Service) DefectRates(ctx context.Context, since time.Time) ([]DefectRate, error) {
	rows, err := s.db.Query(ctx, `SELECT sku_id, COUNT(*), SUM(CASE WHEN result = 'defective' THEN 1 ELSE 0 END)
		FROM aftersales_qc WHERE at >= $1 GROUP BY sku_id`, since.UTC())
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "compute defect rates")
	}
	defer rows.Close()
	out := []DefectRate{}
	for rows.Next() {
		var d DefectRate
		if err := rows.Scan(&d.SKUID, &d.Inspected, &d.Defective); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan defect rate")
		}
		if d.Inspected > 0 {
			d.PerMille = d.Defective * 1000 / d.Inspected
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "compute defect rates")
	}
	slices.SortFunc(out, func(a, b DefectRate) int {
		if a.PerMille != b.PerMille {
			return cmp.Compare(b.PerMille, a.PerMille)
		}
		return strings.Compare(a.SKUID, b.SKUID)
	})
	return out, nil
}
