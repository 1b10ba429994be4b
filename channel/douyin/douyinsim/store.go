package douyinsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// Order statuses (order_status) the simulator uses.
const (
	StatusPending     = 1 // 待支付
	StatusToShip      = 2 // 备货中 (paid)
	StatusShipped     = 3
	StatusPartShipped = 101
	StatusCancelled   = 4
	StatusCompleted   = 5
)

// After-sale statuses and types.
const (
	ASWaitSeller       = 6
	ASWaitBuyerReturn  = 7
	ASWaitSellerShip   = 8 // 待商家发货 (a reship the seller agreed)
	ASWaitSellerSecond = 11
	ASSucceeded        = 12
	ASExchangeShipped  = 13 // 换货待买家收货
	ASExchangeDone     = 14 // 换货成功
	ASRefusedFirst     = 27
	ASClosed           = 28
	ASRefusedSecond    = 29

	ASTypeReturn          = 0 // 退货退款
	ASTypeRefundShipped   = 1 // 已发货仅退款
	ASTypeRefundUnshipped = 2 // 未发货仅退款
	ASTypeExchange        = 3 // 换货
	ASTypeReship          = 7 // 补寄
)

// ErrSoldOut is returned when the platform's stock cannot cover an order.
var ErrSoldOut = errors.New("douyinsim: sold out")

// Product is an item on sale with its SKUs.
type Product struct {
	ProductID int64
	Title     string
	SKUs      []SKU
}

// SKU is one sellable variant with the platform's stock for it.
type SKU struct {
	SkuID int64
	Code  string // the merchant's SKU code (商家编码)
	Spec  string // e.g. "颜色:黑色"
	Price int64  // fen
	Stock int64
}

type sku struct {
	SKU
	productID  int64
	title      string
	syncs      int   // stock syncs received (sku.syncStock, sku.syncStockBatch entries)
	lastSynced int64 // quantity of the last full sync
}

type line struct {
	id        int64
	sku       *sku
	qty       int64
	price     int64
	pay       int64
	afterSale int64 // open or finished after-sale id (0 none)
	shipped   int64 // units shipped so far
}

type pack struct {
	id, tracking, company string
	at                    int64
}

type order struct {
	id                      int64
	status                  int
	create, pay, update     int64
	finish                  int64
	lines                   []*line
	recv                    receiver
	buyerWords, sellerWords string
	openID                  string
	post, promo, platPromo  int64
	tracking, company       string // the latest parcel
	shipTime                int64
	packs                   []pack
	logIdx                  int // index of the order's latest entry in Sim.updLog
	restocked               bool
}

type afterSale struct {
	id, orderID, lineID     int64
	typ, status             int
	amount, num             int64
	reason, remark          string
	create, update          int64
	returnNo, returnCompany string
	exchangeSKU             *sku   // exchanges: the SKU the buyer wants
	shipNo, shipCompany     string // exchanges, reships: the seller's parcel
}

// AddProduct puts a product and its SKUs on sale. Zero ids are assigned.
func (s *Sim) AddProduct(pr Product) Product {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr.ProductID == 0 {
		pr.ProductID = 3600000000000000000 + int64(len(s.skus)+1)*100
	}
	s.products = append(s.products, pr.ProductID)
	for i := range pr.SKUs {
		if pr.SKUs[i].SkuID == 0 {
			pr.SKUs[i].SkuID = 1700000000000 + int64(len(s.skus)+1)
		}
		k := &sku{SKU: pr.SKUs[i], productID: pr.ProductID, title: pr.Title}
		s.skus[k.SkuID] = k
		s.skuOrder = append(s.skuOrder, k.SkuID)
	}
	return pr
}

// SeedCatalog adds n demo products with two SKUs each and the given stock.
func (s *Sim) SeedCatalog(n int, stock int64) []Product {
	colors := []string{"黑色", "白色", "雾霾蓝", "樱花粉", "燕麦色"}
	kinds := []string{"纯棉T恤", "冰丝防晒衣", "加绒卫衣", "直播间爆款保温杯", "蓝牙耳机", "面膜10片装"}
	var out []Product
	for i := 0; i < n; i++ {
		s.mu.Lock()
		title := kinds[s.rnd.IntN(len(kinds))] + " " + fmt.Sprint(2026) + "新款"
		price := int64(1990 + s.rnd.IntN(20000))
		s.mu.Unlock()
		pr := Product{Title: title}
		for j := 0; j < 2; j++ {
			pr.SKUs = append(pr.SKUs, SKU{Code: fmt.Sprintf("DY-%03d-%d", i+1, j+1), Spec: "颜色:" + colors[(i+j)%len(colors)], Price: price + int64(j)*500, Stock: stock})
		}
		out = append(out, s.AddProduct(pr))
	}
	return out
}

// SetStock sets the platform's stock for a SKU (as the seller's back office would).
func (s *Sim) SetStock(skuID, n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.skus[skuID]
	if !ok {
		return fmt.Errorf("douyinsim: no sku %d", skuID)
	}
	k.Stock = n
	return nil
}

// Stock is the platform's current stock for a SKU.
func (s *Sim) Stock(skuID int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.skus[skuID]; ok {
		return k.Stock
	}
	return 0
}

// StockSyncs reports how many stock syncs a SKU received (sku.syncStock
// calls and sku.syncStockBatch entries) and the quantity of the last full
// sync.
func (s *Sim) StockSyncs(skuID int64) (count int, last int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.skus[skuID]; ok {
		return k.syncs, k.lastSynced
	}
	return 0, 0
}

// SKUs lists the SKU ids in the order they were added.
func (s *Sim) SKUs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.skuOrder...)
}

// ProductOf returns the product id of a SKU.
func (s *Sim) ProductOf(skuID int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.skus[skuID]; ok {
		return k.productID
	}
	return 0
}

// NewLine is one line of an order to create.
type NewLine struct {
	SkuID int64
	Qty   int64
}

// NewOrder describes an order placed by a buyer.
type NewOrder struct {
	Lines      []NewLine
	Pay        bool
	BuyerWords string
	// Receiver fields; empty ones get realistic random values.
	Name, Phone, Province, City, District, Detail string
}

// CreateOrder places an order: the platform deducts its stock at once
// (下单减库存) and refuses the whole order with ErrSoldOut when any line
// cannot be covered. It pushes tag 100 (and 101 when Pay is set).
func (s *Sim) CreateOrder(no NewOrder) (int64, error) {
	s.mu.Lock()
	id, err := s.createLocked(no, s.rnd)
	s.mu.Unlock()
	return id, err
}

func (s *Sim) createLocked(no NewOrder, r *rand.Rand) (int64, error) {
	if len(no.Lines) == 0 || len(no.Lines) > 9 {
		return 0, fmt.Errorf("douyinsim: an order has 1 to 9 lines")
	}
	need := map[int64]int64{}
	for _, l := range no.Lines {
		k, ok := s.skus[l.SkuID]
		if !ok || l.Qty <= 0 {
			return 0, fmt.Errorf("douyinsim: bad line sku %d qty %d", l.SkuID, l.Qty)
		}
		need[l.SkuID] += l.Qty
		if k.Stock < need[l.SkuID] {
			return 0, ErrSoldOut
		}
	}
	s.orderSeq++
	now := s.now().Unix()
	o := &order{id: 6920000000000000000 + s.orderSeq*10, status: StatusPending, create: now, update: now,
		recv: randomReceiver(r), buyerWords: no.BuyerWords, openID: fmt.Sprintf("1@#%x", r.Uint64())}
	if no.Name != "" {
		o.recv.Name = no.Name
	}
	if no.Phone != "" {
		o.recv.Phone = no.Phone
	}
	if no.Province != "" {
		o.recv.Province, o.recv.City, o.recv.District = no.Province, no.City, no.District
	}
	if no.Detail != "" {
		o.recv.Detail = no.Detail
	}
	if o.buyerWords == "" {
		o.buyerWords = randomNote(r)
	}
	for i, nl := range no.Lines {
		k := s.skus[nl.SkuID]
		k.Stock -= nl.Qty
		amt := k.Price * nl.Qty
		disc := int64(0)
		if amt > 1000 && r.IntN(3) == 0 {
			disc = int64(r.IntN(int(amt / 10)))
		}
		o.lines = append(o.lines, &line{id: o.id + int64(i) + 1, sku: k, qty: nl.Qty, price: k.Price, pay: amt - disc})
		o.promo += disc
	}
	if r.IntN(4) == 0 {
		o.post = 600
	}
	s.orders[o.id] = o
	s.logUpdate(o)
	s.pushOrderLocked(o, "100")
	if no.Pay {
		s.payLocked(o)
	}
	return o.id, nil
}

func (s *Sim) touch(o *order) {
	o.update = s.now().Unix()
	s.logUpdate(o)
}

// updLog is an append-only log of order updates in time order, so that an
// update-time search scans only its window even with many thousands of
// orders (a flash sale). An entry is current when it is the order's latest.
type updEntry struct {
	at int64
	o  *order
}

func (s *Sim) logUpdate(o *order) {
	if n := len(s.updLog); n > 0 && s.updLog[n-1].at > o.update {
		s.updUnsorted = true // the clock went back: searches fall back to a full scan
	}
	o.logIdx = len(s.updLog)
	s.updLog = append(s.updLog, updEntry{at: o.update, o: o})
}

// ordersUpdated returns the orders whose update time is within [start, end],
// oldest update first (ties in the order of the updates).
func (s *Sim) ordersUpdated(start, end int64) []*order {
	var hits []*order
	if s.updUnsorted {
		for _, o := range s.orders {
			if o.update >= start && o.update <= end {
				hits = append(hits, o)
			}
		}
		sort.Slice(hits, func(i, j int) bool {
			if hits[i].update != hits[j].update {
				return hits[i].update < hits[j].update
			}
			return hits[i].logIdx < hits[j].logIdx
		})
		return hits
	}
	i := sort.Search(len(s.updLog), func(i int) bool { return s.updLog[i].at >= start })
	for ; i < len(s.updLog) && s.updLog[i].at <= end; i++ {
		if e := s.updLog[i]; e.o.logIdx == i {
			hits = append(hits, e.o)
		}
	}
	return hits
}

func (s *Sim) payLocked(o *order) {
	o.status = StatusToShip
	o.pay = s.now().Unix()
	s.touch(o)
	s.pushOrderLocked(o, "101")
}

// PayOrder pays a pending order (tag 101).
func (s *Sim) PayOrder(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok || o.status != StatusPending {
		return fmt.Errorf("douyinsim: order %d is not pending payment", id)
	}
	s.payLocked(o)
	return nil
}

// CancelOrder closes an unpaid order (tag 106); its stock returns.
func (s *Sim) CancelOrder(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok || o.status != StatusPending {
		return fmt.Errorf("douyinsim: order %d is not pending payment", id)
	}
	s.cancelLocked(o)
	return nil
}

func (s *Sim) cancelLocked(o *order) {
	o.status = StatusCancelled
	s.restockLocked(o)
	s.touch(o)
	s.pushOrderLocked(o, "106")
}

func (s *Sim) restockLocked(o *order) {
	if o.restocked {
		return
	}
	o.restocked = true
	for _, l := range o.lines {
		l.sku.Stock += l.qty
	}
}

// ConfirmReceipt completes a shipped order (tag 103).
func (s *Sim) ConfirmReceipt(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok || o.status != StatusShipped {
		return fmt.Errorf("douyinsim: order %d is not shipped", id)
	}
	o.status = StatusCompleted
	o.finish = s.now().Unix()
	s.touch(o)
	s.pushOrderLocked(o, "103")
	return nil
}

// ChangeAddress changes the receiver's address of an unshipped order (tag 105).
func (s *Sim) ChangeAddress(id int64, detail string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok || (o.status != StatusPending && o.status != StatusToShip) {
		return fmt.Errorf("douyinsim: order %d cannot change address", id)
	}
	o.recv.Detail = detail
	s.touch(o)
	s.pushOrderLocked(o, "105")
	return nil
}

// RandomOrders places n realistic orders (1-3 lines over the catalogue,
// paid when pay is set); sold-out attempts are skipped. It returns the ids.
func (s *Sim) RandomOrders(n int, pay bool) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	if len(s.skuOrder) == 0 {
		return nil
	}
	for i := 0; i < n; i++ {
		var no NewOrder
		nl := 1 + s.rnd.IntN(3)
		seen := map[int64]bool{}
		for j := 0; j < nl; j++ {
			k := s.skuOrder[s.rnd.IntN(len(s.skuOrder))]
			if seen[k] {
				continue
			}
			seen[k] = true
			no.Lines = append(no.Lines, NewLine{SkuID: k, Qty: int64(1 + s.rnd.IntN(2))})
		}
		no.Pay = pay
		if id, err := s.createLocked(no, s.rnd); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// OrderView is a snapshot of an order for tests.
type OrderView struct {
	ID, UpdateTime int64
	Status         int
	TrackingNo     string
	Company        string
	Lines          []LineView
}

// LineView is a snapshot of an order line.
type LineView struct {
	ID, SkuID, Qty, Pay, Shipped int64
}

// Order returns a snapshot of an order.
func (s *Sim) Order(id int64) (OrderView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return OrderView{}, false
	}
	v := OrderView{ID: o.id, UpdateTime: o.update, Status: o.status, TrackingNo: o.tracking, Company: o.company}
	for _, l := range o.lines {
		v.Lines = append(v.Lines, LineView{ID: l.id, SkuID: l.sku.SkuID, Qty: l.qty, Pay: l.pay, Shipped: l.shipped})
	}
	return v, true
}

// Orders lists all order ids, oldest first.
func (s *Sim) Orders() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.orders))
	for id := range s.orders {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// RequestRefund opens an after-sale case on a line (lineID 0: the first
// line) of a paid order; typ is an aftersale_type (0 return, 1 refund after
// shipment, 2 refund before shipment). Tag 200.
func (s *Sim) RequestRefund(orderID, lineID int64, typ int, reason string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestRefundLocked(orderID, lineID, typ, reason)
}

func (s *Sim) requestRefundLocked(orderID, lineID int64, typ int, reason string) (int64, error) {
	o, ok := s.orders[orderID]
	if !ok || o.status == StatusPending || o.status == StatusCancelled {
		return 0, fmt.Errorf("douyinsim: order %d is not paid", orderID)
	}
	if typ == ASTypeRefundUnshipped && o.status != StatusToShip {
		return 0, fmt.Errorf("douyinsim: order %d already shipped", orderID)
	}
	var l *line
	for _, x := range o.lines {
		if lineID == 0 || x.id == lineID {
			l = x
			break
		}
	}
	if l == nil {
		return 0, fmt.Errorf("douyinsim: no line %d in order %d", lineID, orderID)
	}
	if l.afterSale != 0 && s.afterSales[l.afterSale].status != ASRefusedFirst && s.afterSales[l.afterSale].status != ASClosed {
		return 0, fmt.Errorf("douyinsim: line %d already has after-sale %d", l.id, l.afterSale)
	}
	if reason == "" {
		reason = "不想要了"
	}
	s.asSeq++
	now := s.now().Unix()
	a := &afterSale{id: 7300000000000000000 + s.asSeq, orderID: o.id, lineID: l.id, typ: typ, status: ASWaitSeller,
		amount: l.pay, num: l.qty, reason: reason, create: now, update: now}
	s.afterSales[a.id] = a
	l.afterSale = a.id
	s.touch(o)
	s.pushAfterSaleLocked(a, "200")
	return a.id, nil
}

// BuyerReturn records that the buyer sent the goods back (tag 203).
func (s *Sim) BuyerReturn(asID int64, company, trackingNo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.afterSales[asID]
	if !ok || a.status != ASWaitBuyerReturn {
		return fmt.Errorf("douyinsim: after-sale %d is not waiting for the return", asID)
	}
	a.status, a.returnCompany, a.returnNo = ASWaitSellerSecond, company, trackingNo
	a.update = s.now().Unix()
	s.pushAfterSaleLocked(a, "203")
	return nil
}

// AfterSaleStatus returns an after-sale's status (0 when unknown).
func (s *Sim) AfterSaleStatus(id int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.afterSales[id]; ok {
		return a.status
	}
	return 0
}

// refundSucceededLocked finishes an after-sale with a refund: an unshipped
// order whose every line is refunded closes and its stock returns.
func (s *Sim) refundSucceededLocked(a *afterSale) {
	a.status = ASSucceeded
	a.update = s.now().Unix()
	o := s.orders[a.orderID]
	s.pushAfterSaleLocked(a, "201")
	if a.typ == ASTypeRefundUnshipped && o.status == StatusToShip {
		all := true
		for _, l := range o.lines {
			if l.afterSale == 0 || s.afterSales[l.afterSale].status != ASSucceeded {
				all = false
			}
		}
		if all {
			o.status = StatusCancelled
			s.restockLocked(o)
		}
	}
	s.touch(o)
	s.pushAfterSaleLocked(a, "207")
}

var _ = time.Second
