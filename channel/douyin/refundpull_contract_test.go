package douyin_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/channel/douyin"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/errs"
)

// afterSales opens n after-sales, one a second, each on an order of its
// own, and returns their ids oldest first and the time before the first.
func afterSales(t *testing.T, f *fixture, n int) (ids []string, start time.Time) {
	t.Helper()
	f.sim.SeedCatalog(2, 1_000_000)
	orders := f.sim.RandomOrders(n, true)
	if len(orders) != n {
		t.Fatalf("created %d orders", len(orders))
	}
	start = f.clk.Now()
	for _, o := range orders {
		f.clk.Add(time.Second)
		id, err := f.sim.RequestRefund(o, 0, douyinsim.ASTypeRefundUnshipped, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	return ids, start
}

func pullAllRefunds(t *testing.T, f *fixture, q channel.RefundQuery) ([]channel.Refund, []int) {
	t.Helper()
	var all []channel.Refund
	var sizes []int
	for i := 0; ; i++ {
		pg, err := f.conn.PullRefunds(context.Background(), f.sess, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, pg.Refunds...)
		sizes = append(sizes, len(pg.Refunds))
		if pg.NextCursor == "" {
			return all, sizes
		}
		if i > 50 {
			t.Fatal("cursor never ends")
		}
		q.Cursor = pg.NextCursor
	}
}

// afterSale.List pages from 0 by update time, oldest first; has_more ends
// the pull on an exactly full last page, and every case comes once.
func TestPullRefundsPaging(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, douyin.SignHMACSHA256)
	if l := f.conn.RefundPullLimits(); l.MaxWindow != 24*time.Hour || l.MaxPageSize != 100 {
		t.Fatalf("limits %+v", l)
	}
	ids, start := afterSales(t, f, 4)
	end := f.clk.Now().Add(time.Minute)
	for _, tc := range []struct {
		name     string
		pageSize int
		want     []int
	}{
		{"one page", 100, []int{4}},
		{"exact multiple", 2, []int{2, 2}},
		{"remainder", 3, []int{3, 1}},
		{"page size above the limit is clamped", 500, []int{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := f.sim.Calls("afterSale.List")
			all, sizes := pullAllRefunds(t, f, channel.RefundQuery{Start: start, End: end, PageSize: tc.pageSize})
			if len(sizes) != len(tc.want) {
				t.Fatalf("page sizes %v, want %v", sizes, tc.want)
			}
			for i := range sizes {
				if sizes[i] != tc.want[i] {
					t.Fatalf("page sizes %v, want %v", sizes, tc.want)
				}
			}
			if got := f.sim.Calls("afterSale.List") - calls; got != len(tc.want) {
				t.Fatalf("%d calls for %d pages", got, len(tc.want))
			}
			if len(all) != len(ids) {
				t.Fatalf("%d refunds, want %d", len(all), len(ids))
			}
			for i, r := range all {
				// Oldest update first, so the ids come in creation order.
				if r.PlatformRefundID != ids[i] || r.Status != channel.RefundRequested || r.PlatformOrderID == "" || r.ModifiedAt.Before(start) {
					t.Fatalf("refund %d = %+v, want id %s", i, r, ids[i])
				}
			}
		})
	}
	ctx := context.Background()
	if all, _ := pullAllRefunds(t, f, channel.RefundQuery{Start: start.Add(-time.Hour), End: start}); len(all) != 0 {
		t.Fatalf("empty window returned %d refunds", len(all))
	}
	all, _ := pullAllRefunds(t, f, channel.RefundQuery{Start: start.Add(3 * time.Second), End: end})
	if len(all) != 2 || all[0].PlatformRefundID != ids[2] || all[1].PlatformRefundID != ids[3] {
		t.Fatalf("late window: %+v", all)
	}
	pg, err := f.conn.PullRefunds(ctx, f.sess, channel.RefundQuery{Start: start, End: end, PageSize: 2, Cursor: "7"})
	if err != nil || len(pg.Refunds) != 0 || pg.NextCursor != "" {
		t.Fatalf("past the end: %+v %v", pg, err)
	}
	if _, err := f.conn.PullRefunds(ctx, f.sess, channel.RefundQuery{Start: start, End: end, Cursor: "-1"}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad cursor: %v", err)
	}
}

// A window longer than the limits is refused before any call; a window the
// platform itself refuses (a simulator configured with a one-hour span)
// comes back as a permanent business error; a bad signature as such.
func TestPullRefundsWindowLimit(t *testing.T) {
	f := newFixture(t, douyinsim.Options{MaxWindow: time.Hour}, "")
	ctx := context.Background()
	now := f.clk.Now()
	_, err := f.conn.PullRefunds(ctx, f.sess, channel.RefundQuery{Start: now.Add(-25 * time.Hour), End: now})
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("window too long: %v", err)
	}
	if f.sim.Calls("afterSale.List") != 0 {
		t.Fatal("connector called the platform with a window beyond its limits")
	}
	_, err = f.conn.PullRefunds(ctx, f.sess, channel.RefundQuery{Start: now.Add(-2 * time.Hour), End: now})
	var ae *channel.APIError
	if !errors.As(err, &ae) || ae.Code != strconv.Itoa(douyin.CodeInvalidBizParam) || ae.Class != channel.ClassPermanent || channel.IsRetryable(err) {
		t.Fatalf("window the platform refuses: %v", err)
	}
	if f.sim.Calls("afterSale.List") != 1 {
		t.Fatalf("%d calls", f.sim.Calls("afterSale.List"))
	}
	if _, err := f.conn.PullRefunds(ctx, f.sess, channel.RefundQuery{Start: now.Add(-time.Hour), End: now}); err != nil {
		t.Fatalf("window at the platform's limit: %v", err)
	}
	bad := f.sess
	bad.Credentials.AppSecret = "wrong"
	_, err = f.conn.PullRefunds(ctx, bad, channel.RefundQuery{Start: now.Add(-time.Hour), End: now})
	if !errors.As(err, &ae) || ae.Class != channel.ClassAuthInvalid || ae.SubCode != douyin.SubSignatureBad {
		t.Fatalf("bad signature: %v", err)
	}
}
