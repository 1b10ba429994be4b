package taobao_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/channel/taobao"
	"omnihub/channel/taobao/taobaosim"
)

// refundsFixture opens n refunds, one a second, on trades of their own and
// returns their ids oldest first with the time just before the first.
func refundsFixture(t *testing.T, e *env, n int) (ids []string, start time.Time) {
	t.Helper()
	e.sim.SeedCatalog()
	start = e.clock.Now()
	for range n {
		e.clock.Advance(time.Second)
		tid, tr := paidTrade(t, e, 1)
		id, err := e.sim.RequestRefund(tid, tr.Lines[0].Oid, taobaosim.RefundSpec{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	return ids, start
}

// pullRefunds reads every page of a query and returns the page sizes.
func pullRefunds(t *testing.T, e *env, q channel.RefundQuery) ([]channel.Refund, []int) {
	t.Helper()
	var all []channel.Refund
	var sizes []int
	for i := 0; ; i++ {
		pg, err := e.conn.PullRefunds(context.Background(), e.sess, q)
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

// The refund pull pages by has_next: a last page that is exactly full ends
// the pull without an empty extra call, every refund comes once, and the
// window bounds are the modification times.
func TestContractRefundPullPaging(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	if l := e.conn.RefundPullLimits(); l.MaxWindow != 24*time.Hour || l.MaxPageSize != 100 || l.MaxLookback != 0 {
		t.Fatalf("limits %+v", l)
	}
	ids, start := refundsFixture(t, e, 4)
	end := e.clock.Now().Add(time.Minute)
	for _, tc := range []struct {
		name     string
		pageSize int
		want     []int
	}{
		{"one page", 100, []int{4}},
		{"exact multiple", 2, []int{2, 2}},
		{"remainder", 3, []int{3, 1}},
		{"pages of one", 1, []int{1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := e.sim.Calls("taobao.refunds.receive.get")
			all, sizes := pullRefunds(t, e, channel.RefundQuery{Start: start, End: end, PageSize: tc.pageSize})
			if len(sizes) != len(tc.want) {
				t.Fatalf("page sizes %v, want %v", sizes, tc.want)
			}
			for i := range sizes {
				if sizes[i] != tc.want[i] {
					t.Fatalf("page sizes %v, want %v", sizes, tc.want)
				}
			}
			if got := e.sim.Calls("taobao.refunds.receive.get") - calls; got != len(tc.want) {
				t.Fatalf("%d calls for %d pages", got, len(tc.want))
			}
			seen := map[string]bool{}
			for _, r := range all {
				if seen[r.PlatformRefundID] {
					t.Fatalf("refund %s twice", r.PlatformRefundID)
				}
				seen[r.PlatformRefundID] = true
				if r.Status != channel.RefundRequested || r.PlatformOrderID == "" || r.ModifiedAt.Before(start) || r.Amount <= 0 {
					t.Fatalf("badly mapped refund %+v", r)
				}
			}
			for _, id := range ids {
				if !seen[id] {
					t.Fatalf("refund %s missing", id)
				}
			}
		})
	}

	ctx := context.Background()
	// A window that ends before the first refund holds none; one that starts
	// after the second holds the last two.
	if all, _ := pullRefunds(t, e, channel.RefundQuery{Start: start.Add(-time.Hour), End: start}); len(all) != 0 {
		t.Fatalf("empty window returned %d refunds", len(all))
	}
	all, _ := pullRefunds(t, e, channel.RefundQuery{Start: start.Add(3 * time.Second), End: end})
	if got := refundIDs(all); len(got) != 2 || !got[ids[2]] || !got[ids[3]] {
		t.Fatalf("late window: %v, want %s and %s", got, ids[2], ids[3])
	}
	// A cursor past the last page is an empty last page, not an error.
	pg, err := e.conn.PullRefunds(ctx, e.sess, channel.RefundQuery{Start: start, End: end, PageSize: 2, Cursor: "9"})
	if err != nil || len(pg.Refunds) != 0 || pg.NextCursor != "" {
		t.Fatalf("past the end: %+v %v", pg, err)
	}
	if _, err := e.conn.PullRefunds(ctx, e.sess, channel.RefundQuery{Start: start, End: end, Cursor: "x"}); err == nil {
		t.Fatal("bad cursor accepted")
	}
}

// The platform's own checks answer with TOP's codes: page_size above 100,
// a window that ends before it starts, a bad signature. It documents no
// maximum span for refunds, and the simulator accepts a week.
func TestContractRefundPullLimits(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	_, start := refundsFixture(t, e, 1)
	ctx := context.Background()
	now := e.clock.Now()

	_, err := e.conn.PullRefunds(ctx, e.sess, channel.RefundQuery{Start: now.Add(-time.Hour), End: now, PageSize: 101})
	if ae := apiErr(t, err); ae.Code != "41" || ae.Class != channel.ClassPermanent || channel.IsRetryable(err) {
		t.Fatalf("page size: %+v", ae)
	}
	_, err = e.conn.PullRefunds(ctx, e.sess, channel.RefundQuery{Start: now, End: now.Add(-time.Hour)})
	if ae := apiErr(t, err); ae.Code != "41" || ae.SubCode != "isv.invalid-parameter" || ae.Class != channel.ClassPermanent {
		t.Fatalf("inverted window: %+v", ae)
	}
	week, _ := pullRefunds(t, e, channel.RefundQuery{Start: start.Add(-7 * 24 * time.Hour), End: now.Add(time.Minute)})
	if len(week) != 1 {
		t.Fatalf("a week's window: %d refunds", len(week))
	}
	// Times go to the platform to the second and both bounds are
	// inclusive: a refund modified within the end's second is in.
	e.clock.Advance(10*time.Second + 500*time.Millisecond)
	tid, tr := paidTrade(t, e, 1)
	id, err := e.sim.RequestRefund(tid, tr.Lines[0].Oid, taobaosim.RefundSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pullRefunds(t, e, channel.RefundQuery{Start: e.clock.Now().Add(-5 * time.Second), End: e.clock.Now()}); len(got) != 1 || got[0].PlatformRefundID != strconv.FormatInt(id, 10) {
		t.Fatalf("refund of the end second: %+v", got)
	}
	for _, sm := range []string{taobao.SignMD5, taobao.SignHMAC, taobao.SignHMACSHA256} {
		bad := e.sess
		bad.Credentials.AppSecret = "not-the-secret"
		c := taobao.New(taobao.Options{BaseURL: e.sim.GatewayURL(), TokenURL: e.sim.TokenURL(), Clock: e.clock.Now, SignMethod: sm})
		_, err := c.PullRefunds(ctx, bad, channel.RefundQuery{Start: now.Add(-time.Hour), End: now})
		if ae := apiErr(t, err); ae.Code != "25" || ae.Class != channel.ClassAuthInvalid {
			t.Fatalf("%s: %+v", sm, ae)
		}
	}
}

func refundIDs(rs []channel.Refund) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		out[r.PlatformRefundID] = true
	}
	return out
}
