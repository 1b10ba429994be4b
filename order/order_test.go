package order

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/storetest"
)

func TestDuplicateAndOutOfOrderDeliveries(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		v1 := mk("P1", t0, func(o *channel.Order) {
			o.Status, o.PaidAt, o.PlatformStatus = channel.OrderPendingPayment, nil, "WAIT_BUYER_PAY"
		})
		v2 := mk("P1", t0.Add(time.Minute))
		v3 := mk("P1", t0.Add(2*time.Minute), func(o *channel.Order) { o.SellerNote = "需要发票" })
		// Newest first, then older, then duplicates.
		if r := e.ingest(t, "shop1", v2); r.Outcome != Created || r.Status != Approved {
			t.Fatalf("v2: %+v", r)
		}
		if r := e.ingest(t, "shop1", v1); r.Outcome != Stale {
			t.Fatalf("v1 after v2: %+v", r)
		}
		if r := e.ingest(t, "shop1", v2); r.Outcome != Duplicate {
			t.Fatalf("v2 again: %+v", r)
		}
		if r := e.ingest(t, "shop1", v3); r.Outcome != Updated {
			t.Fatalf("v3: %+v", r)
		}
		if r := e.ingest(t, "shop1", v2); r.Outcome != Stale {
			t.Fatalf("v2 after v3: %+v", r)
		}
		p, _ := e.svc.List(ctx, Query{ShopID: "shop1"})
		if len(p.Items) != 1 {
			t.Fatalf("%d orders, want 1", len(p.Items))
		}
		d, _ := e.svc.Get(ctx, p.Items[0].ID)
		if d.Order.SellerNote != "需要发票" || d.Order.Status != Approved || !d.Order.PlatformModifiedAt.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("order = %+v", d.Order)
		}
		if len(d.Versions) != 3 {
			t.Fatalf("%d versions, want 3", len(d.Versions))
		}
		applied := 0
		for _, v := range d.Versions {
			if v.Applied {
				applied++
			}
		}
		if applied != 2 {
			t.Fatalf("applied versions = %d, want 2 (v2, v3)", applied)
		}
		if n := len(e.stock.reservedOf(d.Order.ID)); n != 1 {
			t.Fatalf("reservations = %d, want 1 (no double reserve)", n)
		}

		// Every delivery order of the three versions converges, also in one
		// batch. (The same receiver in 8 shops would trip the phone rule.)
		if err := e.svc.DeleteRule(ctx, "0190a000-0000-7000-8000-000000000003", "test"); err != nil {
			t.Fatal(err)
		}
		perms := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
		vs := []channel.Order{v1, v2, v3}
		for i, p := range perms {
			shop := fmt.Sprintf("perm%d", i)
			for _, k := range p {
				e.ingest(t, shop, vs[k])
			}
			o, err := e.svc.FindByPlatformID(ctx, shop, "P1")
			if err != nil || o.SellerNote != "需要发票" || o.Status != Approved || o.payloadHash != d.Order.payloadHash {
				t.Fatalf("perm %v: %+v %v", p, o, err)
			}
		}
		res, err := e.svc.IngestBatch(ctx, "batch", []channel.Order{v2, v3, v1, v3, v2})
		if err != nil {
			t.Fatal(err)
		}
		created := 0
		for _, r := range res {
			if r.Outcome == Created {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("batch outcomes %+v", res)
		}
		o, _ := e.svc.FindByPlatformID(ctx, "batch", "P1")
		if o.SellerNote != "需要发票" || o.Status != Approved {
			t.Fatalf("batch order = %+v", o)
		}
		var n int64
		_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM orders WHERE platform_order_id = 'P1'`).Scan(&n)
		if n != 8 {
			t.Fatalf("%d rows for P1 across 8 shops", n)
		}
	})
}

func TestAuditRules(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		if _, err := e.svc.AddBlacklist(ctx, BlacklistEntry{Kind: BlacklistPhone, Value: "139-0000-0000"}, "tester"); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			mut    func(*channel.Order)
			status Status
			reason string
			tag    string
		}{
			{"clean", nil, Approved, "", ""},
			{"unknown district", func(o *channel.Order) { o.Receiver.District = "南山区" }, Held, ReasonBadAddress, ""},
			{"unknown city", func(o *channel.Order) { o.Receiver.City = "深圳市" }, Held, ReasonBadAddress, ""},
			{"unknown province", func(o *channel.Order) { o.Receiver.Province = "火星" }, Held, ReasonBadAddress, ""},
			{"empty detail", func(o *channel.Order) { o.Receiver.Detail = " " }, Held, ReasonBadAddress, ""},
			{"change address", func(o *channel.Order) { o.BuyerNote = "请改地址到上海" }, Held, "note_change_address", "change_address"},
			{"change colour", func(o *channel.Order) { o.BuyerNote = "改颜色为红色" }, Held, "note_change_spec", "change_spec"},
			{"change size", func(o *channel.Order) { o.SellerNote = "客户要改尺码" }, Held, "note_change_spec", "change_spec"},
			{"courier request", func(o *channel.Order) { o.BuyerNote = "发顺丰" }, Held, "note_courier", "courier_request"},
			{"invoice tag only", func(o *channel.Order) { o.BuyerNote = "要发票" }, Approved, "", "invoice"},
			{"urgent tag only", func(o *channel.Order) { o.BuyerNote = "加急" }, Approved, "", "urgent"},
			{"blacklisted phone", func(o *channel.Order) { o.Receiver.Phone = "13900000000" }, Held, "risk_blacklist", "risk"},
		}
		for i, tc := range cases {
			o := mk(fmt.Sprintf("A%d", i), t0)
			if tc.mut != nil {
				tc.mut(&o)
			}
			r := e.ingest(t, "shop", o)
			got := e.order(t, r.OrderID)
			if got.Status != tc.status || (tc.reason != "" && !hasReason(got, tc.reason)) {
				t.Errorf("%s: status %s reasons %v, want %s %s", tc.name, got.Status, got.HoldReasons, tc.status, tc.reason)
			}
			if tc.tag != "" && !strings.Contains(strings.Join(got.Tags, ","), tc.tag) {
				t.Errorf("%s: tags %v, want %s", tc.name, got.Tags, tc.tag)
			}
		}
		// Risk: many small orders to one phone within the window.
		var statuses []Status
		for i := 0; i < 5; i++ {
			o := mk(fmt.Sprintf("R%d", i), t0.Add(time.Duration(i)*time.Minute), func(o *channel.Order) {
				o.Receiver.Phone, o.PaidAmount = "13711112222", 500
			})
			statuses = append(statuses, e.ingest(t, "shop", o).Status)
		}
		want := []Status{Approved, Approved, Approved, Held, Held}
		if fmt.Sprint(statuses) != fmt.Sprint(want) {
			t.Fatalf("small orders to one phone: %v, want %v", statuses, want)
		}
		// Large orders: held from the 6th on.
		statuses = nil
		for i := 0; i < 6; i++ {
			o := mk(fmt.Sprintf("L%d", i), t0, func(o *channel.Order) { o.Receiver.Phone = "13766667777" })
			statuses = append(statuses, e.ingest(t, "shop", o).Status)
		}
		if statuses[4] != Approved || statuses[5] != Held {
			t.Fatalf("large orders to one phone: %v", statuses)
		}
		// The audit decision is in the history.
		r := e.ingest(t, "shop", mk("H1", t0, func(o *channel.Order) { o.BuyerNote = "改地址" }))
		d, _ := e.svc.Get(ctx, r.OrderID)
		found := false
		for _, ev := range d.Events {
			if ev.Kind == "audit" && strings.Contains(ev.Detail, "note_change_address") {
				found = true
			}
		}
		if !found {
			t.Fatalf("no audit decision in history: %+v", d.Events)
		}
	})
}

func TestUnboundSKUExceptionAndReplay(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		e.res.autoCode = false
		ctx := context.Background()
		r := e.ingest(t, "shop", mk("U1", t0, func(o *channel.Order) { o.Lines[0].PlatformSKUID = "PS-NEW" }))
		if r.Status != Exception || !strings.Contains(strings.Join(r.HoldReasons, ","), ReasonUnboundSKU) {
			t.Fatalf("unbound: %+v", r)
		}
		ex, _ := e.svc.Exceptions(ctx, Query{HoldReason: ReasonUnboundSKU})
		if len(ex.Items) != 1 {
			t.Fatalf("exception queue has %d", len(ex.Items))
		}
		// Binding elsewhere in the shop replays nothing.
		e.res.bind("PS-NEW", "SKU-B")
		var n int
		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			if _, err = e.svc.ReplayUnbound(ctx, tx, "other-shop", "PS-NEW"); err != nil {
				return err
			}
			n, err = e.svc.ReplayUnbound(ctx, tx, "shop", "PS-NEW")
			return err
		})
		if err != nil || n != 1 {
			t.Fatalf("ReplayUnbound = %d, %v", n, err)
		}
		o := e.order(t, r.OrderID)
		if o.Status != Approved || o.Lines[0].SKUID != "SKU-B" || len(e.stock.reservedOf(o.ID)) != 1 {
			t.Fatalf("after binding: %+v", o)
		}
	})
}

func TestStockShortageAndCancel(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		e.stock.set("WH1", "SKU-A", 1)
		r1 := e.ingest(t, "shop", mk("S1", t0))
		r2 := e.ingest(t, "shop", mk("S2", t0))
		if r1.Status != Approved || r2.Status != Held || r2.HoldReasons[0] != ReasonOutOfStock {
			t.Fatalf("shortage: %+v %+v", r1, r2)
		}
		if _, err := e.svc.Approve(ctx, r2.OrderID, "ops", "ok"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("approve without stock: %v", err)
		}
		// The platform cancels the first order: its stock comes back.
		c := mk("S1", t0.Add(time.Minute), func(o *channel.Order) { o.Status = channel.OrderCancelled })
		if r := e.ingest(t, "shop", c); r.Status != Cancelled {
			t.Fatalf("cancel: %+v", r)
		}
		if n, _ := e.stock.Available(ctx, "WH1", "SKU-A"); n != 1 {
			t.Fatalf("available after cancel = %d", n)
		}
		o, err := e.svc.Replay(ctx, r2.OrderID, "ops")
		if err != nil || o.Status != Approved {
			t.Fatalf("replay after restock: %+v %v", o, err)
		}
		var n int64
		_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE resource = 'order' AND resource_id = $1 AND action = 'order.replay' AND actor = 'ops'`, r2.OrderID).Scan(&n)
		if n != 1 {
			t.Fatalf("audit log rows = %d", n)
		}
	})
}

func TestIllegalTransitions(t *testing.T) {
	for from, tos := range transitions {
		for _, to := range tos {
			if !CanTransition(from, to) {
				t.Fatalf("%s→%s", from, to)
			}
		}
	}
	if CanTransition(Cancelled, Paid) || CanTransition(Shipped, Approved) || CanTransition(PendingPayment, Shipped) {
		t.Fatal("illegal transition allowed")
	}
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		r := e.ingest(t, "shop", mk("I1", t0))
		if _, err := e.svc.Transition(ctx, r.OrderID, Delivered, "ops", ""); !errs.Is(err, errs.Conflict) {
			t.Fatalf("approved → delivered: %v", err)
		}
		for _, to := range []Status{Allocated, Picking, Packed} {
			if _, err := e.svc.Transition(ctx, r.OrderID, to, "wms", ""); err != nil {
				t.Fatalf("→ %s: %v", to, err)
			}
		}
		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := e.svc.ShipTx(ctx, tx, r.OrderID, "wms")
			return err
		})
		if err != nil || !e.stock.shipped[r.OrderID] {
			t.Fatalf("ship: %v", err)
		}
		if _, err := e.svc.Cancel(ctx, r.OrderID, "ops", "too late"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("cancel shipped: %v", err)
		}
		if _, err := e.svc.Reject(ctx, r.OrderID, "ops", "no"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("reject shipped: %v", err)
		}
		d, _ := e.svc.Get(ctx, r.OrderID)
		var path []string
		for _, ev := range d.Events {
			if ev.Kind == "transition" {
				path = append(path, string(ev.To))
			}
		}
		if strings.Join(path, ">") != "paid>approved>allocated>picking>packed>shipped" {
			t.Fatalf("history %v", path)
		}
	})
}

func TestExceptionFixApproveReject(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		r := e.ingest(t, "shop", mk("F1", t0, func(o *channel.Order) { o.Receiver.District = "不存在区" }))
		if r.Status != Held {
			t.Fatalf("%+v", r)
		}
		o, err := e.svc.FixOrder(ctx, r.OrderID, Fix{Receiver: &Receiver{Name: "李雷", Phone: "13812345678", Province: "广东省", City: "深圳市", District: "南山区", Detail: "科技园1号"}, Replay: true}, "ops")
		if err != nil || o.Status != Approved || o.DivisionCode != "440305" {
			t.Fatalf("fix: %+v %v", o, err)
		}
		r2 := e.ingest(t, "shop", mk("F2", t0, func(o *channel.Order) { o.BuyerNote = "改地址" }))
		if o, err := e.svc.Approve(ctx, r2.OrderID, "ops", "called the buyer"); err != nil || o.Status != Approved {
			t.Fatalf("manual approve: %+v %v", o, err)
		}
		r3 := e.ingest(t, "shop", mk("F3", t0, func(o *channel.Order) { o.BuyerNote = "改颜色" }))
		if _, err := e.svc.Reject(ctx, r3.OrderID, "ops", ""); !errs.Is(err, errs.Invalid) {
			t.Fatalf("reject without reason: %v", err)
		}
		if o, err := e.svc.Reject(ctx, r3.OrderID, "ops", "buyer cancelled by phone"); err != nil || o.Status != Cancelled {
			t.Fatalf("reject: %+v %v", o, err)
		}
		var n int64
		_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE resource = 'order' AND actor = 'ops'`).Scan(&n)
		if n != 3 {
			t.Fatalf("audit log rows = %d, want 3", n)
		}
		var before string
		_ = db.QueryRow(ctx, `SELECT before_json FROM audit_log WHERE action = 'order.fix'`).Scan(&before)
		if strings.Contains(before, "13812345678") || !strings.Contains(before, "不存在区") {
			t.Fatalf("audit log before = %s", before)
		}
	})
}

func TestRoutingSplitCourierMerge(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		e.svc.SetSKUInfo(func(_ context.Context, _ store.Querier, sku string) (SKUInfo, bool) {
			switch sku {
			case "SKU-H":
				return SKUInfo{WeightGrams: 25000, Type: "bulky"}, true
			case "SKU-F":
				return SKUInfo{WeightGrams: 500, Type: "fresh"}, true
			case "SKU-P":
				return SKUInfo{Presale: true}, true
			}
			return SKUInfo{WeightGrams: 300}, true
		})
		for _, r := range []Rule{
			{Kind: KindRoute, Name: "south", Expression: `Province in ["广东省", "广西壮族自治区"]`, Target: "WH-GZ", Priority: 10, Enabled: true},
			{Kind: KindRoute, Name: "main", Expression: `true`, Target: "WH-SH", Priority: 20, Enabled: true},
			{Kind: KindRoute, Name: "backup", Expression: `true`, Target: "WH-GZ", Priority: 30, Enabled: true},
		} {
			if _, err := e.svc.SaveRule(ctx, r, "admin"); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range []string{"SKU-A", "SKU-B", "SKU-H", "SKU-F"} {
			e.stock.set("WH-SH", s, 100)
			e.stock.set("WH-GZ", s, 100)
		}
		e.stock.set("WH-SH", "SKU-B", 0) // B only in Guangzhou
		line := func(code string) channel.OrderLine {
			return channel.OrderLine{PlatformLineID: code, PlatformSKUID: "PS-" + code, OuterSKUID: code, Quantity: 1, Price: 100, Paid: 100}
		}
		// Region routing.
		r := e.ingest(t, "shop", mk("G1", t0, func(o *channel.Order) {
			o.Receiver.Province, o.Receiver.City, o.Receiver.District = "广东省", "广州市", "天河区"
		}))
		if o := e.order(t, r.OrderID); o.WarehouseID != "WH-GZ" || o.Courier != "ZTO" {
			t.Fatalf("south: %s %s", o.WarehouseID, o.Courier)
		}
		// Stock routing: everything in Guangzhou beats a split.
		r = e.ingest(t, "shop", mk("G2", t0, func(o *channel.Order) { o.Lines = []channel.OrderLine{line("SKU-A"), line("SKU-B")} }))
		if o := e.order(t, r.OrderID); o.WarehouseID != "WH-GZ" || len(o.Parts) != 1 {
			t.Fatalf("stock routing: %+v", o.Parts)
		}
		// Split: A only in Shanghai, B only in Guangzhou; presale P apart.
		e.stock.set("WH-GZ", "SKU-A", 0)
		r = e.ingest(t, "shop", mk("G3", t0, func(o *channel.Order) {
			o.Lines = []channel.OrderLine{line("SKU-A"), line("SKU-B"), line("SKU-P")}
		}))
		o := e.order(t, r.OrderID)
		if o.Status != Approved || len(o.Parts) != 3 || o.Parts[0].WarehouseID != "WH-SH" || o.Parts[1].WarehouseID != "WH-GZ" || !o.Parts[2].Presale {
			t.Fatalf("split: %s %+v", o.Status, o.Parts)
		}
		if o.Lines[0].Part != 1 || o.Lines[1].Part != 2 || o.Lines[2].Part != 3 || len(e.stock.reservedOf(o.ID)) != 2 {
			t.Fatalf("split lines: %+v reserved %v", o.Lines, e.stock.reservedOf(o.ID))
		}
		// Courier choice: remote region, weight, SKU type.
		for _, c := range []struct {
			mut  func(*channel.Order)
			want string
		}{
			{func(o *channel.Order) {
				o.Receiver.Province, o.Receiver.City, o.Receiver.District = "新疆维吾尔自治区", "乌鲁木齐市", "天山区"
			}, "EMS"},
			{func(o *channel.Order) { o.Lines = []channel.OrderLine{line("SKU-H")} }, "DBL"},
			{func(o *channel.Order) { o.Lines = []channel.OrderLine{line("SKU-F")} }, "SF"},
		} {
			r := e.ingest(t, "shop", mk("C"+c.want, t0, c.mut))
			if o := e.order(t, r.OrderID); o.Courier != c.want {
				t.Fatalf("courier = %q, want %s (%s)", o.Courier, c.want, o.Status)
			}
		}
		// Merge: same buyer and address within the window, across batches.
		same := func(pid string, at time.Time) channel.Order {
			return mk(pid, at, func(o *channel.Order) { o.BuyerID, o.Receiver.Phone = "buyer-m", "13600001111" })
		}
		m1 := e.ingest(t, "shop", same("M1", t0))
		m2 := e.ingest(t, "shop", same("M2", t0.Add(30*time.Minute)))
		res, _ := e.svc.IngestBatch(ctx, "shop", []channel.Order{same("M3", t0.Add(40*time.Minute)), same("M4", t0.Add(5*time.Hour))})
		g1, g2, g3, g4 := e.order(t, m1.OrderID).MergeGroup, e.order(t, m2.OrderID).MergeGroup, e.order(t, res[0].OrderID).MergeGroup, e.order(t, res[1].OrderID).MergeGroup
		if g1 == "" || g1 != g2 || g2 != g3 || g4 != "" {
			t.Fatalf("merge groups %q %q %q %q", g1, g2, g3, g4)
		}
		other := e.ingest(t, "shop", mk("M5", t0.Add(time.Minute), func(o *channel.Order) {
			o.BuyerID, o.Receiver.Phone, o.Receiver.Detail = "buyer-m", "13600001111", "别处2号"
		}))
		if e.order(t, other.OrderID).MergeGroup != "" {
			t.Fatal("merged across addresses")
		}
	})
}

func TestRulesValidatedAtSave(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		_, err := e.svc.SaveRule(ctx, Rule{Kind: KindAudit, Name: "broken", Expression: "PaidAmount >", Action: ActionHold, Reason: "x", Enabled: true}, "admin")
		if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.FieldsOf(err)["expression"], "line 1") {
			t.Fatalf("broken rule: %v %v", err, errs.FieldsOf(err))
		}
		_, err = e.svc.SaveRule(ctx, Rule{Kind: KindAudit, Name: "typo", Expression: "PaidAmont > 1", Action: ActionHold, Reason: "x", Enabled: true}, "admin")
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("unknown field: %v", err)
		}
		big, err := e.svc.SaveRule(ctx, Rule{Kind: KindAudit, Name: "big", Expression: "PaidAmount > 100000", Action: ActionHold, Reason: "big_order", Enabled: true, Priority: 5}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		r := e.ingest(t, "shop", mk("B1", t0, func(o *channel.Order) { o.PaidAmount = 200000 }))
		if r.Status != Held || r.HoldReasons[0] != "big_order" {
			t.Fatalf("%+v", r)
		}
		dr, _ := e.svc.DryRun(ctx, DryRunRequest{Expression: `PaidAmount > 100000 && Province == "浙江省"`, Order: &Order{Amounts: Amounts{Paid: 200001}, Receiver: Receiver{Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "x"}}})
		if dr.Value != true || !dr.Env.AddressValid {
			t.Fatalf("dry run %+v", dr)
		}
		if err := e.svc.DeleteRule(ctx, big.ID, "admin"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestReceiverMasking(t *testing.T) {
	r := Receiver{Name: "王小明", Phone: "13812345678", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文三路100号3幢"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "receiver", r, "order", Order{ID: "o1", Receiver: r})
	out := buf.String()
	for _, secret := range []string{"13812345678", "小明", "文三路"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log leaks %q: %s", secret, out)
		}
	}
	if m := r.Masked(); m.Phone != "138****5678" || m.Province != "浙江省" {
		t.Fatalf("masked %+v", m)
	}
}

func TestInvalidDeliveriesRejected(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		bad := []channel.Order{
			mk("", t0),
			mk("X1", time.Time{}),
			mk("X2", t0, func(o *channel.Order) { o.Lines = nil }),
			mk("X3", t0, func(o *channel.Order) { o.Lines[0].Quantity = 0 }),
			mk("X4", t0, func(o *channel.Order) { o.Status = "weird" }),
			mk("X5", t0, func(o *channel.Order) { o.PaidAmount = -1 }),
			mk("X6", t0, func(o *channel.Order) { o.BuyerNote = "\xff\xfe" }),
		}
		res, err := e.svc.IngestBatch(context.Background(), "shop", append(bad, mk("OK", t0)))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res[:len(bad)] {
			if r.Outcome != Rejected || !errs.Is(r.Err, errs.Invalid) {
				t.Errorf("bad[%d]: %+v", i, r)
			}
		}
		if res[len(bad)].Outcome != Created {
			t.Fatalf("good order in a batch with bad ones: %+v", res[len(bad)])
		}
	})
}

func TestBatchShortageFallsBackPerOrder(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		e.stock.set("WH1", "SKU-A", 2)
		var batch []channel.Order
		for i := 0; i < 4; i++ {
			batch = append(batch, mk(fmt.Sprintf("Q%d", i), t0))
		}
		res, err := e.svc.IngestBatch(context.Background(), "shop", batch)
		if err != nil {
			t.Fatal(err)
		}
		var got []Status
		for _, r := range res {
			got = append(got, r.Status)
		}
		if fmt.Sprint(got) != fmt.Sprint([]Status{Approved, Approved, Held, Held}) {
			t.Fatalf("statuses %v", got)
		}
		if n, _ := e.stock.Available(context.Background(), "WH1", "SKU-A"); n != 0 {
			t.Fatalf("available = %d", n)
		}
	})
}
