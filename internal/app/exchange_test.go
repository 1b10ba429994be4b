package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"omnihub/aftersales"
	"omnihub/auth"
	"omnihub/catalog"
	"omnihub/channel"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/channel/taobao"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/config"
	"omnihub/order"
	"omnihub/shop"
	"omnihub/store"
	syncer "omnihub/sync"
)

// The configured return address (aftersales.return_address).
var testReturnAddress = config.Address{Name: "退货组", Phone: "13800000000", Province: "浙江省", City: "杭州市",
	District: "余杭区", Detail: "仓前街道 1 号", Zip: "311121"}

// caseAPI calls the after-sales HTTP API as one user.
type caseAPI struct {
	t     *testing.T
	h     http.Handler
	token string
}

func newCaseAPI(t *testing.T, a *App, user string) *caseAPI {
	t.Helper()
	ctx := auth.WithActor(context.Background(), "test")
	if _, _, err := a.Auth.CreateUser(ctx, user, auth.RoleAdmin, ""); err != nil {
		t.Fatal(err)
	}
	_, token, err := a.Auth.CreateToken(ctx, user, "e2e", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &caseAPI{t: t, h: a.API.Handler(), token: token}
}

// do posts (or gets) one after-sales route and decodes the case it answers.
func (c *caseAPI) do(method, path, body string) aftersales.Case {
	c.t.Helper()
	var rd *strings.Reader
	if body == "" {
		rd = strings.NewReader("")
	} else {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "/api/v1/aftersales/cases"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		c.t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	var out aftersales.Case
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		c.t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
	}
	return out
}

// caseByRef waits until the platform case ref has a case in state st.
func (w *refundWorld) caseByRef(shopID, ref string, st aftersales.State) aftersales.Case {
	w.t.Helper()
	var c aftersales.Case
	w.eventually(fmt.Sprintf("case of %s %s", ref, st), func() (bool, string) {
		var id string
		if err := w.a.DB.QueryRow(w.ctx, `SELECT id FROM aftersales_cases WHERE shop_id = $1 AND platform_refund_id = $2`,
			shopID, ref).Scan(&id); err != nil {
			return false, err.Error()
		}
		var err error
		if c, err = w.a.Aftersales.Get(w.ctx, id); err != nil {
			return false, err.Error()
		}
		return c.State == st, string(c.State)
	})
	return c
}

// shipFromWarehouse ships an approved order from OmniHub's warehouse and
// uploads the parcel to the platform, as the warehouse flow does.
func (w *refundWorld) shipFromWarehouse(shopID, orderID, platformOrderID, tracking string) {
	w.t.Helper()
	if _, err := w.a.Orders.Transition(w.ctx, orderID, order.Allocated, "wh", "wave"); err != nil {
		w.t.Fatal(err)
	}
	if err := w.a.DB.InTx(w.ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := w.a.Orders.ShipTx(ctx, tx, orderID, "wh"); err != nil {
			return err
		}
		return syncer.EnqueueShipmentTx(ctx, tx, shopID, channel.Shipment{PlatformOrderID: platformOrderID, CarrierCode: "ZTO", TrackingNo: tracking})
	}); err != nil {
		w.t.Fatal(err)
	}
}

// wantHistory checks that the case's history, read through the API, has
// every step timestamped and attributed, in order, and contains the given
// (action, actor) steps.
func wantHistory(t *testing.T, c aftersales.Case, steps ...string) {
	t.Helper()
	var prev time.Time
	seen := map[string]bool{}
	for _, e := range c.History {
		if e.At.IsZero() || e.Actor == "" || e.Action == "" {
			t.Fatalf("unattributed or untimed step %+v", e)
		}
		if e.At.Before(prev) {
			t.Fatalf("history out of order at %+v", e)
		}
		prev = e.At
		who, _, _ := strings.Cut(e.Actor, " (token") // a person acting through an API token
		seen[string(e.Action)+"/"+who] = true
	}
	for _, s := range steps {
		if !seen[s] {
			t.Fatalf("history lacks %s: %+v", s, c.History)
		}
	}
	if len(c.Steps) == 0 || c.Steps[c.State].IsZero() {
		t.Fatalf("no timestamp for the current state %s: %+v", c.State, c.Steps)
	}
}

func (w *refundWorld) noDeadJobs() {
	w.t.Helper()
	var dead int64
	if err := w.a.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'discarded'`).Scan(&dead); err != nil {
		w.t.Fatal(err)
	}
	if dead != 0 {
		w.t.Fatalf("%d jobs discarded", dead)
	}
}

// TestTmallExchangeEndToEnd follows a Tmall exchange from the buyer's
// request to its close: the case is read by the refund pull
// (tmall.exchange.receive.get), agreed with the configured return address,
// the goods come back, are inspected (defective) and restocked, and the new
// SKU — reserved since the approval — ships with tmall.exchange.confirm.consign.
// A return agreed on the same shop carries the configured address too.
func TestTmallExchangeEndToEnd(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			w := newRefundWorldWith(t, engine, worldOptions{
				cfg:        func(c *config.Config) { c.Aftersales.ReturnAddress = testReturnAddress },
				tbExtra:    map[string]string{"tmall_exchange": "true"},
				tbSettings: shop.Settings{PullInterval: 200 * time.Millisecond},
			})
			api := newCaseAPI(t, w.a, "carol")
			ts, capSKU := w.tbItem.SKUs[0].SkuID, w.tbItem.SKUs[1].SkuID
			item := strconv.FormatInt(w.tbItem.NumIID, 10)
			if _, err := w.a.Catalog.Bind(w.ctx, catalog.BindInput{ShopID: w.tbShop.ID, PlatformItemID: item,
				PlatformSKUID: strconv.FormatInt(capSKU, 10), SKUID: w.sku["CAP"]}); err != nil {
				t.Fatal(err)
			}

			tid, ti := w.taobaoTrade(taobaosim.LineSpec{NumIID: w.tbItem.NumIID, SkuID: ts, Num: 1})
			o := w.order(w.tbShop.ID, tid, order.Approved)
			w.shipFromWarehouse(w.tbShop.ID, o.ID, strconv.FormatInt(tid, 10), "ZT6001")
			w.eventually("trade shipped on Tmall", func() (bool, string) {
				tr, _ := w.tb.Trade(tid)
				return tr.Status == "WAIT_BUYER_CONFIRM_GOODS", tr.Status
			})
			w.order(w.tbShop.ID, tid, order.Shipped)
			w.wantBalance("TS-M", 19, 0)

			dispute, err := w.tb.RequestExchange(tid, ti.Lines[0].Oid, capSKU, "尺码不合适")
			if err != nil {
				t.Fatal(err)
			}
			ref := taobao.ExchangePrefix + strconv.FormatInt(dispute, 10)
			c := w.caseByRef(w.tbShop.ID, ref, aftersales.Requested)
			if c.Type != aftersales.Exchange || c.OrderID != o.ID || len(c.Lines) != 1 || c.Lines[0].SKUID != w.sku["TS-M"] ||
				c.Lines[0].NewSKUID != w.sku["CAP"] || !c.GoodsShipped {
				t.Fatalf("exchange case = %+v", c)
			}
			w.order(w.tbShop.ID, tid, order.Refunding)

			c = api.do("POST", "/"+c.ID+"/approve", `{"note":"同意换货"}`)
			if c.State != aftersales.AwaitingReturn {
				t.Fatalf("after approval: %s", c.State)
			}
			w.wantBalance("CAP", 20, 1) // the new SKU is reserved
			w.eventually("agreement delivered to Tmall", func() (bool, string) {
				x, _ := w.tb.Exchange(dispute)
				return x.Status == taobaosim.ExWaitBuyerReturn, x.StatusName
			})
			if x, _ := w.tb.Exchange(dispute); !strings.Contains(x.Address, testReturnAddress.Detail) || !strings.Contains(x.Address, testReturnAddress.Name) {
				t.Fatalf("exchange agreed with address %q, want the configured one", x.Address)
			}

			if err := w.tb.BuyerReturnExchange(dispute, "中通快递", "ZT5001"); err != nil {
				t.Fatal(err)
			}
			c = w.caseByRef(w.tbShop.ID, ref, aftersales.ReturnInTransit)
			if c.ReturnTrackingNo != "ZT5001" {
				t.Fatalf("return tracking %q", c.ReturnTrackingNo)
			}
			api.do("POST", "/"+c.ID+"/receive", `{}`)
			api.do("POST", "/"+c.ID+"/qc", `{"units":[{"line":1,"result":"defective","note":"领口开线"}]}`)
			api.do("POST", "/"+c.ID+"/restock", `{}`)
			c = api.do("POST", "/"+c.ID+"/ship", `{"carrier":"SF","tracking_no":"SF7001"}`)
			if c.State != aftersales.ExchangeShipped {
				t.Fatalf("after shipping: %s", c.State)
			}
			w.eventually("replacement reported to Tmall", func() (bool, string) {
				x, _ := w.tb.Exchange(dispute)
				return x.Status == taobaosim.ExWaitBuyerReceive && x.SellerNo == "SF7001" && x.SellerCompany == "顺丰速运",
					x.StatusName + " " + x.SellerCompany + " " + x.SellerNo
			})
			if b := w.balance("TS-M"); b.OnHand != 19 || b.Defective != 1 || b.Reserved != 0 {
				t.Fatalf("TS-M after the defective return: %+v", b)
			}
			w.wantBalance("CAP", 19, 0) // shipped
			w.order(w.tbShop.ID, tid, order.Shipped)

			if err := w.tb.BuyerConfirmExchange(dispute); err != nil {
				t.Fatal(err)
			}
			w.eventually("Tmall's success read back", func() (bool, string) {
				got, err := w.a.Aftersales.Get(w.ctx, c.ID)
				if err != nil {
					return false, err.Error()
				}
				return got.PlatformStatus == "换货成功", got.PlatformStatus
			})
			c = api.do("POST", "/"+c.ID+"/close", `{"note":"换货完成"}`)
			c = api.do("GET", "/"+c.ID, "")
			if c.State != aftersales.Closed {
				t.Fatalf("closed? %s", c.State)
			}
			wantHistory(t, c, "create/platform", "approve/carol", "await_return/carol", "responded/platform",
				"return_shipped/platform", "receive/carol", "qc/carol", "restock/carol", "ship_exchange/carol", "close/carol")
			responded := 0
			for _, e := range c.History {
				if e.Action == aftersales.ActResponded {
					responded++
				}
			}
			if responded != 2 { // agree, ship_replacement
				t.Fatalf("%d decisions delivered, want 2", responded)
			}

			// A return on the same shop is agreed with the configured address.
			tid2, t2 := w.taobaoTrade(taobaosim.LineSpec{NumIID: w.tbItem.NumIID, SkuID: ts, Num: 1})
			o2 := w.order(w.tbShop.ID, tid2, order.Approved)
			w.shipFromWarehouse(w.tbShop.ID, o2.ID, strconv.FormatInt(tid2, 10), "ZT6002")
			w.order(w.tbShop.ID, tid2, order.Shipped)
			rid, err := w.tb.RequestRefund(tid2, t2.Lines[0].Oid, taobaosim.RefundSpec{GoodsReturn: true, Reason: "不合适"})
			if err != nil {
				t.Fatal(err)
			}
			rc := w.caseOf(w.tbShop.ID, rid, aftersales.Requested)
			api.do("POST", "/"+rc.ID+"/approve", `{}`)
			w.eventually("return agreed on Taobao", func() (bool, string) {
				r, _ := w.tb.Refund(rid)
				return r.Status == "WAIT_BUYER_RETURN_GOODS", r.Status
			})
			if r, _ := w.tb.Refund(rid); !strings.Contains(r.ReturnAddress, testReturnAddress.Phone) || !strings.Contains(r.ReturnAddress, testReturnAddress.Detail) {
				t.Fatalf("return agreed with %q, want the configured address", r.ReturnAddress)
			}

			w.checksClean()
			w.noDeadJobs()
		})
	}
}

// TestDouyinExchangeAndReshipEndToEnd follows a Douyin exchange (pushes,
// afterSale.operate 301 and 311) and a Douyin reship (补寄: agreed in the
// back office, the parcel reported with afterSale.fillLogistics) from the
// buyer's request to their close, with stock, order states and the
// attributed history checked through the API.
func TestDouyinExchangeAndReshipEndToEnd(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			w := newRefundWorld(t, engine)
			api := newCaseAPI(t, w.a, "dave")
			// A T-shirt on Douyin, bound by its merchant code when asked for.
			dyTS := w.dy.AddProduct(douyinsim.Product{Title: "T恤", SKUs: []douyinsim.SKU{{Code: "TS-M", Spec: "尺码:M", Price: 5900, Stock: 100}}}).SKUs[0].SkuID
			buyer := 0
			paidShipped := func() (int64, *order.Order) {
				t.Helper()
				buyer++
				d, err := w.dy.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: w.dyCap, Qty: 1}}, Pay: true,
					Name: "王芳", Phone: fmt.Sprintf("1370000%04d", buyer), Province: "广东省", City: "深圳市", District: "南山区", Detail: "科技园 2 号"})
				if err != nil {
					t.Fatal(err)
				}
				o := w.order(w.dyShop.ID, d, order.Approved)
				w.shipFromWarehouse(w.dyShop.ID, o.ID, strconv.FormatInt(d, 10), fmt.Sprintf("ZT90%02d", buyer))
				w.eventually("Douyin order shipped", func() (bool, string) {
					v, _ := w.dy.Order(d)
					return v.Status == douyinsim.StatusShipped, strconv.Itoa(v.Status)
				})
				return d, w.order(w.dyShop.ID, d, order.Shipped)
			}

			// Exchange: a cap for a T-shirt.
			d1, o1 := paidShipped()
			w.wantBalance("CAP", 19, 0)
			as, err := w.dy.RequestExchange(d1, 0, dyTS, "想换T恤")
			if err != nil {
				t.Fatal(err)
			}
			ref := strconv.FormatInt(as, 10)
			c := w.caseByRef(w.dyShop.ID, ref, aftersales.Requested)
			if c.Type != aftersales.Exchange || c.OrderID != o1.ID || c.Lines[0].NewSKUID != w.sku["TS-M"] {
				t.Fatalf("exchange case = %+v", c)
			}
			w.order(w.dyShop.ID, d1, order.Refunding)
			api.do("POST", "/"+c.ID+"/approve", `{}`)
			w.wantBalance("TS-M", 20, 1)
			w.eventually("agreement delivered to Douyin", func() (bool, string) {
				st := w.dy.AfterSaleStatus(as)
				return st == douyinsim.ASWaitBuyerReturn, strconv.Itoa(st)
			})
			if err := w.dy.BuyerReturn(as, "中通快递", "ZT8001"); err != nil {
				t.Fatal(err)
			}
			c = w.caseByRef(w.dyShop.ID, ref, aftersales.ReturnInTransit)
			api.do("POST", "/"+c.ID+"/receive", `{}`)
			api.do("POST", "/"+c.ID+"/qc", `{"units":[{"line":1,"result":"good"}]}`)
			api.do("POST", "/"+c.ID+"/restock", `{}`)
			api.do("POST", "/"+c.ID+"/ship", `{"carrier":"ZTO","tracking_no":"ZT8101"}`)
			w.eventually("exchange shipped on Douyin", func() (bool, string) {
				st := w.dy.AfterSaleStatus(as)
				co, no := w.dy.AfterSaleParcel(as)
				return st == douyinsim.ASExchangeShipped && co == "zhongtong" && no == "ZT8101", fmt.Sprint(st, co, no)
			})
			w.wantBalance("CAP", 20, 0)  // the returned cap is back on the shelf
			w.wantBalance("TS-M", 19, 0) // the T-shirt left
			w.order(w.dyShop.ID, d1, order.Shipped)
			if err := w.dy.BuyerConfirmExchange(as); err != nil {
				t.Fatal(err)
			}
			w.eventually("Douyin's 换货成功 read back", func() (bool, string) {
				got, err := w.a.Aftersales.Get(w.ctx, c.ID)
				if err != nil {
					return false, err.Error()
				}
				return got.PlatformStatus == strconv.Itoa(douyinsim.ASExchangeDone) && got.State == aftersales.ExchangeShipped,
					got.PlatformStatus + " " + string(got.State)
			})
			api.do("POST", "/"+c.ID+"/close", `{}`)
			c = api.do("GET", "/"+c.ID, "")
			wantHistory(t, c, "create/platform", "approve/dave", "responded/platform", "return_shipped/platform",
				"receive/dave", "qc/dave", "restock/dave", "ship_exchange/dave", "close/dave")

			// Reship: the buyer is missing the cap; the seller agrees in the
			// back office and OmniHub sends another one.
			d2, _ := paidShipped()
			rs, err := w.dy.RequestReship(d2, 0, "少件/漏发")
			if err != nil {
				t.Fatal(err)
			}
			rref := strconv.FormatInt(rs, 10)
			r := w.caseByRef(w.dyShop.ID, rref, aftersales.Requested)
			if r.Type != aftersales.Reship || r.RefundAmount != 0 {
				t.Fatalf("reship case = %+v", r)
			}
			w.order(w.dyShop.ID, d2, order.Refunding)
			if err := w.dy.AgreeReship(rs); err != nil {
				t.Fatal(err)
			}
			r = w.caseByRef(w.dyShop.ID, rref, aftersales.Approved)
			w.wantBalance("CAP", 19, 1) // the second cap is reserved
			r = api.do("POST", "/"+r.ID+"/ship", `{"carrier":"SF","tracking_no":"SF9001"}`)
			if r.State != aftersales.Reshipped {
				t.Fatalf("after the reship: %s", r.State)
			}
			w.eventually("reship parcel on Douyin", func() (bool, string) {
				st := w.dy.AfterSaleStatus(rs)
				co, no := w.dy.AfterSaleParcel(rs)
				return st == douyinsim.ASSucceeded && co == "shunfeng" && no == "SF9001", fmt.Sprint(st, co, no)
			})
			w.wantBalance("CAP", 18, 0)
			w.order(w.dyShop.ID, d2, order.Shipped)
			api.do("POST", "/"+r.ID+"/close", `{}`)
			r = api.do("GET", "/"+r.ID, "")
			wantHistory(t, r, "create/platform", "approve/platform", "reship/dave", "responded/platform", "close/dave")

			w.checksClean()
			w.noDeadJobs()
		})
	}
}
