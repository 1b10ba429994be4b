package aftersales

import (
	"context"
	"strings"
	"testing"

	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// TestListByPlatformOrderProbes checks SQLite's plans for the case list
// filtered by platform order id, alone and with the other filters: each
// must search aftersales_cases_platform_order rather than walk every case
// (newest first) until the page is full, which a lookup of one order's few
// cases never fills.
func TestListByPlatformOrderProbes(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	for _, f := range []Filter{
		{PlatformOrderID: "P1", Limit: 100},
		{PlatformOrderID: "P1", ShopID: "s", OpenOnly: true, Limit: 100},
		{PlatformOrderID: "P1", Type: RefundOnly, After: "c", Limit: 100},
	} {
		q, args := listQuery(f)
		var plan []string
		err := db.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
			rows, err := tx.Query(ctx, "EXPLAIN QUERY PLAN "+q, args...)
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
		if all := strings.Join(plan, "\n"); !strings.Contains(all, "SEARCH aftersales_cases USING INDEX aftersales_cases_platform_order (platform_order_id=?)") {
			t.Errorf("%+v: plan does not search aftersales_cases_platform_order:\n%s", f, all)
		}
	}
}
