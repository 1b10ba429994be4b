package storetest

import (
	"context"
	"strings"
	"testing"

	"omnihub/store"
)

// QueryPlan returns SQLite's EXPLAIN QUERY PLAN of query with args, one
// step a line ("SEARCH orders USING INDEX …"). SQLite plans without
// statistics, so packages pin the plans of statements on growing tables
// with it: a plan that reads a whole table per batch passes every
// behaviour test on small data and slows the product down as data piles up.
func QueryPlan(t testing.TB, db store.DB, query string, args ...any) string {
	t.Helper()
	if db.Engine() != store.SQLite {
		t.Fatalf("QueryPlan reads SQLite plans; the database is %s", db.Engine())
	}
	var plan []string
	err := db.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		rows, err := tx.Query(ctx, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int64
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				return err
			}
			plan = append(plan, detail)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	return strings.Join(plan, "\n")
}
