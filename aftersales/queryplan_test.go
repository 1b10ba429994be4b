package aftersales

import (
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
		q, args := listQuery(store.SQLite, f)
		if all := storetest.QueryPlan(t, db, q, args...); !strings.Contains(all, "SEARCH aftersales_cases USING INDEX aftersales_cases_platform_order (platform_order_id=?)") {
			t.Errorf("%+v: plan does not search aftersales_cases_platform_order:\n%s", f, all)
		}
	}
}

// TestListByShopProbes checks the plan of a shop's case list, newest
// first: it must search the shop's cases in id order, not walk every case.
func TestListByShopProbes(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	for _, f := range []Filter{
		{ShopID: "s", Limit: 50},
		{ShopID: "s", After: "c", Limit: 50},
		{ShopID: "s", Type: RefundOnly, Limit: 50},
	} {
		q, args := listQuery(store.SQLite, f)
		plan := storetest.QueryPlan(t, db, q, args...)
		if !strings.Contains(plan, "SEARCH aftersales_cases USING INDEX aftersales_cases_shop (shop_id=?") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%+v: plan does not read the shop's cases newest first:\n%s", f, plan)
		}
	}
}
