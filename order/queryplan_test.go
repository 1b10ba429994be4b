package order

import (
	"context"
	"strings"
	"testing"
	"time"

	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// TestIngestLookupsProbe checks SQLite's plans for the lookups every ingest
// batch makes: each must probe the index written for it. SQLite plans
// without statistics, and twice it picked a plan that read a whole shop's
// orders (ORDER BY id walked orders_shop) or every approved order (the
// status index) per batch, which made ingest slow down as orders piled up.
func TestIngestLookupsProbe(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	ctx := context.Background()
	cases := []struct {
		name, sql string
		args      []any
		want      string // the index the plan must search
	}{
		{"stored orders", storedOrdersQuery(store.SQLite, 3), []any{"s", "a", "b", "c"}, "sqlite_autoindex_orders_2"},
		{"merge candidates", siblingsQuery(store.SQLite, 3), []any{"s", "a", "b", "c"}, "orders_merge"},
		{"phone counts", phoneCountsQuery(store.SQLite, 3), []any{time.Now(), "a", "b", "c"}, "orders_phone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var plan []string
			err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				rows, err := tx.Query(ctx, "EXPLAIN QUERY PLAN "+c.sql, c.args...)
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
				t.Fatal(err)
			}
			all := strings.Join(plan, "\n")
			if !strings.Contains(all, "SEARCH orders USING") || !strings.Contains(all, c.want+" (") {
				t.Fatalf("plan does not search %s:\n%s", c.want, all)
			}
		})
	}
}
