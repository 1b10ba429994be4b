package taobaosim

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ItemSpec describes an item to put on sale. Prices are fen.
type ItemSpec struct {
	Title    string
	Price    int64
	Quantity int64 // ignored when the item has SKUs (the item's num is their sum)
	OuterID  string
	SKUs     []SKUSpec
}

// SKUSpec is one SKU of an item.
type SKUSpec struct {
	Properties string // e.g. "颜色:白色;尺码:M"
	Price      int64
	Quantity   int64
	OuterID    string
}

// Item is an item as stored (a copy).
type Item struct {
	NumIID   int64
	Title    string
	Price    int64
	Quantity int64
	OuterID  string
	OnSale   bool
	SKUs     []SKU
	Modified time.Time
}

// SKU is a stored SKU.
type SKU struct {
	SkuID      int64
	Properties string
	Price      int64
	Quantity   int64
	OuterID    string
	Modified   time.Time
}

type item struct {
	Item
}

func (it *item) num() int64 {
	if len(it.SKUs) == 0 {
		return it.Quantity
	}
	var n int64
	for _, s := range it.SKUs {
		n += s.Quantity
	}
	return n
}

func (it *item) sku(id int64) *SKU {
	for i := range it.SKUs {
		if it.SKUs[i].SkuID == id {
			return &it.SKUs[i]
		}
	}
	return nil
}

// Errors of the driving methods.
var (
	ErrNotFound   = errors.New("taobaosim: not found")
	ErrState      = errors.New("taobaosim: not allowed in the current state")
	ErrOutOfStock = errors.New("taobaosim: insufficient quantity")
)

func (s *Sim) nextID(base int64) int64 {
	s.seq++
	return base + s.seq
}

// AddItem puts an item on sale and returns it with its ids.
func (s *Sim) AddItem(spec ItemSpec) Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	it := &item{Item{NumIID: s.nextID(600000000000), Title: spec.Title, Price: spec.Price,
		Quantity: spec.Quantity, OuterID: spec.OuterID, OnSale: true, Modified: now}}
	for _, k := range spec.SKUs {
		id := s.nextID(4000000000000)
		it.SKUs = append(it.SKUs, SKU{SkuID: id, Properties: k.Properties, Price: k.Price,
			Quantity: k.Quantity, OuterID: k.OuterID, Modified: now})
		s.skuIndex[id] = it.NumIID
	}
	s.items[it.NumIID] = it
	s.itemOrder = append(s.itemOrder, it.NumIID)
	return copyItem(it)
}

func copyItem(it *item) Item {
	c := it.Item
	c.SKUs = append([]SKU(nil), it.SKUs...)
	c.Quantity = it.num()
	return c
}

// Items returns the stored items in creation order.
func (s *Sim) Items() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, 0, len(s.itemOrder))
	for _, id := range s.itemOrder {
		out = append(out, copyItem(s.items[id]))
	}
	return out
}

// Quantity is the sellable quantity of an item (skuID 0) or SKU, as the
// connector last set it (or as sales left it); -1 if unknown.
func (s *Sim) Quantity(numIID, skuID int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[numIID]
	if !ok {
		return -1
	}
	if skuID == 0 {
		return it.num()
	}
	if k := it.sku(skuID); k != nil {
		return k.Quantity
	}
	return -1
}

// Receiver is a delivery address.
type Receiver struct {
	Name, Mobile, State, City, District, Town, Address, Zip string
}

// LineSpec is one line of a trade to create.
type LineSpec struct {
	NumIID   int64
	SkuID    int64 // 0 for an item without SKUs
	Num      int64
	Discount int64 // line discount, fen
}

// TradeSpec describes a trade; empty buyer and receiver are generated.
type TradeSpec struct {
	Lines        []LineSpec
	BuyerNick    string
	Receiver     *Receiver
	BuyerMessage string
	SellerMemo   string
	PostFee      int64
}

type trade struct {
	Tid          int64
	Status       string
	Created      time.Time
	Modified     time.Time
	PayTime      time.Time
	ConsignTime  time.Time
	EndTime      time.Time
	BuyerNick    string
	BuyerOpenUID string
	Receiver     Receiver
	PostFee      int64
	BuyerMessage string
	SellerMemo   string
	Orders       []*order
}

type order struct {
	Oid          int64
	NumIID       int64
	SkuID        int64
	OuterSkuID   string
	OuterIID     string
	Title        string
	SkuProps     string
	Num          int64
	Price        int64
	Discount     int64
	Status       string
	RefundStatus string
	RefundID     int64
	InvoiceNo    string
	Company      string
}

func (o *order) totalFee() int64 { return o.Price * o.Num }
func (o *order) payment() int64  { return o.Price*o.Num - o.Discount }

func (t *trade) totals() (total, discount, payment int64) {
	for _, o := range t.Orders {
		total += o.totalFee()
		discount += o.Discount
		payment += o.payment()
	}
	return total, discount, payment + t.PostFee
}

// TradeInfo is a read-only view of a trade for tests and the demo.
type TradeInfo struct {
	Tid      int64
	Status   string
	Modified time.Time
	Payment  int64
	Lines    []LineInfo
}

// LineInfo is one line of TradeInfo.
type LineInfo struct {
	Oid, NumIID, SkuID int64
	Num                int64
	Status             string
	RefundStatus       string
	InvoiceNo, Company string
}

// Trade returns a view of a trade.
func (s *Sim) Trade(tid int64) (TradeInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[tid]
	if !ok {
		return TradeInfo{}, false
	}
	_, _, pay := t.totals()
	ti := TradeInfo{Tid: t.Tid, Status: t.Status, Modified: t.Modified, Payment: pay}
	for _, o := range t.Orders {
		ti.Lines = append(ti.Lines, LineInfo{Oid: o.Oid, NumIID: o.NumIID, SkuID: o.SkuID, Num: o.Num,
			Status: o.Status, RefundStatus: o.RefundStatus, InvoiceNo: o.InvoiceNo, Company: o.Company})
	}
	return ti, true
}

// CreateTrade places an order (拍下): stock is taken at once and given back
// if the trade closes unpaid. The trade waits for payment.
func (s *Sim) CreateTrade(spec TradeSpec) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createTradeLocked(spec)
}

func (s *Sim) createTradeLocked(spec TradeSpec) (int64, error) {
	if len(spec.Lines) == 0 {
		return 0, fmt.Errorf("taobaosim: trade without lines")
	}
	need := map[[2]int64]int64{}
	for _, l := range spec.Lines {
		it, ok := s.items[l.NumIID]
		if !ok {
			return 0, fmt.Errorf("%w: item %d", ErrNotFound, l.NumIID)
		}
		if l.Num <= 0 {
			return 0, fmt.Errorf("taobaosim: line quantity must be positive")
		}
		if len(it.SKUs) > 0 && it.sku(l.SkuID) == nil {
			return 0, fmt.Errorf("%w: sku %d of item %d", ErrNotFound, l.SkuID, l.NumIID)
		}
		need[[2]int64{l.NumIID, l.SkuID}] += l.Num
	}
	for k, n := range need {
		it := s.items[k[0]]
		have := it.Quantity
		if k[1] != 0 {
			have = it.sku(k[1]).Quantity
		}
		if have < n {
			return 0, fmt.Errorf("%w: item %d sku %d has %d, wants %d", ErrOutOfStock, k[0], k[1], have, n)
		}
	}
	now := s.now()
	t := &trade{Tid: s.nextID(4100000000000000000), Status: "WAIT_BUYER_PAY", Created: now, Modified: now,
		BuyerNick: spec.BuyerNick, BuyerMessage: spec.BuyerMessage, SellerMemo: spec.SellerMemo, PostFee: spec.PostFee}
	if t.BuyerNick == "" {
		t.BuyerNick = s.genNick()
	}
	t.BuyerOpenUID = "AAH" + s.token(21)
	if spec.Receiver != nil {
		t.Receiver = *spec.Receiver
	} else {
		t.Receiver = s.genReceiver()
	}
	for _, l := range spec.Lines {
		it := s.items[l.NumIID]
		o := &order{Oid: s.nextID(4100000000000000000), NumIID: it.NumIID, SkuID: l.SkuID, OuterIID: it.OuterID,
			Title: it.Title, Num: l.Num, Price: it.Price, Discount: l.Discount, Status: "WAIT_BUYER_PAY"}
		if l.SkuID != 0 {
			k := it.sku(l.SkuID)
			k.Quantity -= l.Num
			k.Modified = now
			o.Price, o.OuterSkuID, o.SkuProps = k.Price, k.OuterID, k.Properties
		} else {
			it.Quantity -= l.Num
		}
		it.Modified = now
		t.Orders = append(t.Orders, o)
	}
	s.trades[t.Tid] = t
	s.tradeOrder = append(s.tradeOrder, t.Tid)
	s.publishTrade("taobao_trade_TradeCreate", t)
	return t.Tid, nil
}

func (s *Sim) tradeLocked(tid int64) (*trade, error) {
	t, ok := s.trades[tid]
	if !ok {
		return nil, fmt.Errorf("%w: trade %d", ErrNotFound, tid)
	}
	return t, nil
}

func (s *Sim) setTradeStatus(t *trade, st string) {
	t.Status = st
	t.Modified = s.now()
	for _, o := range t.Orders {
		if o.RefundStatus == "SUCCESS" {
			continue
		}
		if st == "SELLER_CONSIGNED_PART" {
			continue // line statuses are set by the shipment
		}
		o.Status = st
	}
}

// PayTrade records the buyer's payment.
func (s *Sim) PayTrade(tid int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tradeLocked(tid)
	if err != nil {
		return err
	}
	if t.Status != "WAIT_BUYER_PAY" {
		return fmt.Errorf("%w: trade %d is %s", ErrState, tid, t.Status)
	}
	s.setTradeStatus(t, "WAIT_SELLER_SEND_GOODS")
	t.PayTime = t.Modified
	s.publishTrade("taobao_trade_TradeBuyerPay", t)
	return nil
}

// CancelTrade closes an unpaid trade (as Taobao does on timeout or buyer
// cancellation) and gives its stock back.
func (s *Sim) CancelTrade(tid int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tradeLocked(tid)
	if err != nil {
		return err
	}
	if t.Status != "WAIT_BUYER_PAY" {
		return fmt.Errorf("%w: trade %d is %s", ErrState, tid, t.Status)
	}
	s.restock(t.Orders)
	s.setTradeStatus(t, "TRADE_CLOSED_BY_TAOBAO")
	t.EndTime = t.Modified
	s.publishTrade("taobao_trade_TradeClose", t)
	return nil
}

func (s *Sim) restock(orders []*order) {
	now := s.now()
	for _, o := range orders {
		it, ok := s.items[o.NumIID]
		if !ok {
			continue
		}
		if o.SkuID != 0 {
			if k := it.sku(o.SkuID); k != nil {
				k.Quantity += o.Num
				k.Modified = now
			}
		} else {
			it.Quantity += o.Num
		}
		it.Modified = now
	}
}

// ShipTrade ships every unshipped line as the seller would in the seller
// centre (not through the API).
func (s *Sim) ShipTrade(tid int64, companyCode, outSid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tradeLocked(tid)
	if err != nil {
		return err
	}
	if terr := s.ship(t, companyCode, outSid, nil); terr != nil {
		return fmt.Errorf("%w: %s", ErrState, terr.SubMsg)
	}
	return nil
}

// ConfirmTrade is the buyer confirming receipt: the trade finishes.
func (s *Sim) ConfirmTrade(tid int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tradeLocked(tid)
	if err != nil {
		return err
	}
	if t.Status != "WAIT_BUYER_CONFIRM_GOODS" && t.Status != "TRADE_BUYER_SIGNED" {
		return fmt.Errorf("%w: trade %d is %s", ErrState, tid, t.Status)
	}
	s.setTradeStatus(t, "TRADE_FINISHED")
	t.EndTime = t.Modified
	s.publishTrade("taobao_trade_TradeSuccess", t)
	return nil
}

// SetSellerMemo changes the seller's note (旗帜备注), which modifies the trade.
func (s *Sim) SetSellerMemo(tid int64, memo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tradeLocked(tid)
	if err != nil {
		return err
	}
	t.SellerMemo = memo
	t.Modified = s.now()
	s.publishTrade("taobao_trade_TradeMemoModified", t)
	return nil
}

// ship ships the given lines (all unshipped when oids is empty).
func (s *Sim) ship(t *trade, company, sid string, oids []int64) *topErr {
	if t.Status != "WAIT_SELLER_SEND_GOODS" && t.Status != "SELLER_CONSIGNED_PART" {
		return bizErr("isv.logistics-offline-service-error", "订单状态不允许发货:"+t.Status)
	}
	want, unknown := map[int64]bool{}, map[int64]bool{}
	for _, id := range oids {
		want[id], unknown[id] = true, true
	}
	var target []*order
	for _, o := range t.Orders {
		if len(want) > 0 && !want[o.Oid] {
			continue
		}
		delete(unknown, o.Oid)
		if o.InvoiceNo != "" || o.RefundStatus == "SUCCESS" {
			if len(oids) > 0 && o.InvoiceNo != "" {
				return bizErr("isv.logistics-offline-service-error", fmt.Sprintf("子订单%d已发货", o.Oid))
			}
			continue
		}
		target = append(target, o)
	}
	if len(unknown) > 0 {
		return invalid("sub_tid", "子订单不属于该交易")
	}
	if len(target) == 0 {
		return bizErr("isv.logistics-offline-service-error", "没有可发货的子订单")
	}
	for _, o := range target {
		o.InvoiceNo, o.Company, o.Status = sid, company, "WAIT_BUYER_CONFIRM_GOODS"
	}
	all := true
	for _, o := range t.Orders {
		if o.InvoiceNo == "" && o.RefundStatus != "SUCCESS" {
			all = false
		}
	}
	now := s.now()
	t.ConsignTime = now
	if all {
		s.setTradeStatus(t, "WAIT_BUYER_CONFIRM_GOODS")
		s.publishTrade("taobao_trade_TradeSellerShip", t)
	} else {
		t.Status, t.Modified = "SELLER_CONSIGNED_PART", now
		s.publishTrade("taobao_trade_TradePartlySellerShip", t)
	}
	return nil
}

// RefundSpec describes a buyer's after-sales request.
type RefundSpec struct {
	Amount      int64 // fen; 0 = what the buyer paid for the line
	GoodsReturn bool  // return and refund (退货退款) rather than refund only
	Reason      string
	Desc        string
}

type refund struct {
	RefundID      int64
	Tid, Oid      int64
	Status        string
	GoodStatus    string
	HasGoodReturn bool
	RefundFee     int64
	TotalFee      int64
	Reason, Desc  string
	Num           int64
	CompanyName   string
	Sid           string
	Created       time.Time
	Modified      time.Time
	OrderStatus   string
	Phase         string
	Version       int64
	RefuseMessage string
	ReturnAddress string // where the seller asked for the goods (taobao.rp.returngoods.agree)
}

// RefundInfo is a read-only view of a refund.
type RefundInfo struct {
	RefundID      int64
	Tid, Oid      int64
	Status        string
	Amount        int64
	ReturnAddress string // name, mobile and address (or address id) of the agreement to a return
}

// Refund returns a view of a refund.
func (s *Sim) Refund(id int64) (RefundInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[id]
	if !ok {
		return RefundInfo{}, false
	}
	return RefundInfo{RefundID: r.RefundID, Tid: r.Tid, Oid: r.Oid, Status: r.Status, Amount: r.RefundFee, ReturnAddress: r.ReturnAddress}, true
}

// RequestRefund is the buyer asking for a refund of one line of a paid
// trade. It returns the refund id.
func (s *Sim) RequestRefund(tid, oid int64, spec RefundSpec) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tradeLocked(tid)
	if err != nil {
		return 0, err
	}
	switch t.Status {
	case "WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART", "WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED":
	default:
		return 0, fmt.Errorf("%w: trade %d is %s", ErrState, tid, t.Status)
	}
	var o *order
	for _, x := range t.Orders {
		if x.Oid == oid {
			o = x
		}
	}
	if o == nil {
		return 0, fmt.Errorf("%w: order %d of trade %d", ErrNotFound, oid, tid)
	}
	if o.RefundID != 0 {
		if r := s.refunds[o.RefundID]; r != nil && r.Status != "CLOSED" && r.Status != "SELLER_REFUSE_BUYER" {
			return 0, fmt.Errorf("%w: line %d already has refund %d", ErrState, oid, r.RefundID)
		}
	}
	amount := spec.Amount
	if amount <= 0 || amount > o.payment() {
		amount = o.payment()
	}
	now := s.now()
	r := &refund{RefundID: s.nextID(150000000000000), Tid: tid, Oid: oid, Status: "WAIT_SELLER_AGREE",
		HasGoodReturn: spec.GoodsReturn, RefundFee: amount, TotalFee: o.payment(), Reason: spec.Reason, Desc: spec.Desc,
		Num: o.Num, Created: now, Modified: now, OrderStatus: o.Status, Version: now.UnixMilli()}
	if r.Reason == "" {
		r.Reason = refundReasons[s.rng.Intn(len(refundReasons))]
	}
	r.Phase = "onsale"
	r.GoodStatus = "BUYER_NOT_RECEIVED"
	if o.InvoiceNo != "" {
		r.Phase = "aftersale"
		r.GoodStatus = "BUYER_RECEIVED"
	}
	s.refunds[r.RefundID] = r
	o.RefundID, o.RefundStatus = r.RefundID, r.Status
	t.Modified = now
	s.publishRefund("taobao_refund_RefundCreated", r)
	return r.RefundID, nil
}

func (s *Sim) refundLocked(id int64) (*refund, error) {
	r, ok := s.refunds[id]
	if !ok {
		return nil, fmt.Errorf("%w: refund %d", ErrNotFound, id)
	}
	return r, nil
}

func (s *Sim) setRefundStatus(r *refund, st, topic string) {
	now := s.now()
	r.Status, r.Modified = st, now
	if v := now.UnixMilli(); v > r.Version {
		r.Version = v
	} else {
		r.Version++
	}
	if t := s.trades[r.Tid]; t != nil {
		t.Modified = now
		for _, o := range t.Orders {
			if o.Oid == r.Oid {
				o.RefundStatus = st
			}
		}
		if st == "SUCCESS" {
			s.afterRefundSuccess(t)
		}
	}
	s.publishRefund(topic, r)
}

// afterRefundSuccess closes the trade when every line was refunded.
func (s *Sim) afterRefundSuccess(t *trade) {
	for _, o := range t.Orders {
		if o.RefundStatus != "SUCCESS" {
			return
		}
	}
	for _, o := range t.Orders {
		o.Status = "TRADE_CLOSED"
	}
	t.Status, t.EndTime = "TRADE_CLOSED", t.Modified
	s.publishTrade("taobao_trade_TradeClose", t)
}

// BuyerReturnGoods is the buyer sending the goods back after the seller
// agreed to a return.
func (s *Sim) BuyerReturnGoods(refundID int64, company, sid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.refundLocked(refundID)
	if err != nil {
		return err
	}
	if r.Status != "WAIT_BUYER_RETURN_GOODS" {
		return fmt.Errorf("%w: refund %d is %s", ErrState, refundID, r.Status)
	}
	r.CompanyName, r.Sid, r.GoodStatus = company, sid, "BUYER_RETURNED_GOODS"
	s.setRefundStatus(r, "WAIT_SELLER_CONFIRM_GOODS", "taobao_refund_RefundBuyerReturnGoods")
	return nil
}

// CloseRefund is the buyer withdrawing the request.
func (s *Sim) CloseRefund(refundID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.refundLocked(refundID)
	if err != nil {
		return err
	}
	if r.Status == "SUCCESS" || r.Status == "CLOSED" {
		return fmt.Errorf("%w: refund %d is %s", ErrState, refundID, r.Status)
	}
	s.setRefundStatus(r, "CLOSED", "taobao_refund_RefundClosed")
	return nil
}

// fieldSet parses a fields parameter.
func fieldSet(fields string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(fields, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		m[f] = true
		if strings.HasPrefix(f, "order.") || f == "orders" {
			m["orders"] = true
		}
		if f == "sku" || strings.HasPrefix(f, "sku.") {
			m["skus"] = true
		}
	}
	return m
}

func filter(m map[string]any, fs map[string]bool) map[string]any {
	out := make(map[string]any, len(fs))
	for k, v := range m {
		if fs[k] {
			out[k] = v
		}
	}
	return out
}

func (s *Sim) tradeJSON(t *trade) map[string]any {
	total, discount, payment := t.totals()
	m := map[string]any{
		"tid": t.Tid, "status": t.Status, "type": "fixed", "created": fmtTime(t.Created), "modified": fmtTime(t.Modified),
		"seller_nick": s.opts.SellerNick, "buyer_nick": t.BuyerNick, "buyer_open_uid": t.BuyerOpenUID,
		"receiver_name": t.Receiver.Name, "receiver_mobile": t.Receiver.Mobile, "receiver_state": t.Receiver.State,
		"receiver_city": t.Receiver.City, "receiver_district": t.Receiver.District, "receiver_town": t.Receiver.Town,
		"receiver_address": t.Receiver.Address, "receiver_zip": t.Receiver.Zip,
		"total_fee": money(total), "discount_fee": money(discount), "post_fee": money(t.PostFee),
		"payment": money(payment), "platform_subsidy_fee": "0.00",
	}
	if !t.PayTime.IsZero() {
		m["pay_time"] = fmtTime(t.PayTime)
	}
	if !t.ConsignTime.IsZero() {
		m["consign_time"] = fmtTime(t.ConsignTime)
	}
	if !t.EndTime.IsZero() {
		m["end_time"] = fmtTime(t.EndTime)
	}
	if t.BuyerMessage != "" {
		m["buyer_message"] = t.BuyerMessage
	}
	if t.SellerMemo != "" {
		m["seller_memo"] = t.SellerMemo
	}
	var orders []map[string]any
	for _, o := range t.Orders {
		om := map[string]any{
			"oid": o.Oid, "num_iid": o.NumIID, "title": o.Title, "num": o.Num, "price": money(o.Price),
			// total_fee is 应付金额: price × num + adjust_fee − discount_fee.
			"total_fee": money(o.payment()), "discount_fee": money(o.Discount), "adjust_fee": "0.00",
			"payment": money(o.payment()), "divide_order_fee": money(o.payment()), "status": o.Status, "refund_status": o.RefundStatus,
			"outer_iid": o.OuterIID,
		}
		if o.RefundStatus == "" {
			om["refund_status"] = "NO_REFUND"
		}
		if o.SkuID != 0 {
			om["sku_id"] = strconv.FormatInt(o.SkuID, 10) // TOP types sku_id as String
			om["outer_sku_id"] = o.OuterSkuID
			om["sku_properties_name"] = o.SkuProps
		}
		if o.RefundID != 0 {
			om["refund_id"] = o.RefundID
		}
		if o.InvoiceNo != "" {
			om["invoice_no"] = o.InvoiceNo
			om["logistics_company"] = o.Company
		}
		orders = append(orders, om)
	}
	m["orders"] = map[string]any{"order": orders}
	return m
}

func (s *Sim) refundJSON(r *refund) map[string]any {
	m := map[string]any{
		"refund_id": r.RefundID, "tid": r.Tid, "oid": r.Oid, "status": r.Status, "good_status": r.GoodStatus,
		"has_good_return": r.HasGoodReturn, "refund_fee": money(r.RefundFee), "total_fee": money(r.TotalFee),
		"payment": money(r.TotalFee - r.RefundFee), "reason": r.Reason, "desc": r.Desc, "num": r.Num,
		"created": fmtTime(r.Created), "modified": fmtTime(r.Modified), "order_status": r.OrderStatus,
		"refund_phase": r.Phase, "refund_version": r.Version, "seller_nick": s.opts.SellerNick,
	}
	if t := s.trades[r.Tid]; t != nil {
		m["buyer_nick"] = t.BuyerNick
		for _, o := range t.Orders {
			if o.Oid == r.Oid {
				m["title"], m["num_iid"], m["price"] = o.Title, o.NumIID, money(o.Price)
			}
		}
	}
	if r.Sid != "" {
		m["company_name"], m["sid"] = r.CompanyName, r.Sid
	}
	return m
}

func (s *Sim) itemJSON(it *item, withSKUs bool) map[string]any {
	status := "instock"
	if it.OnSale {
		status = "onsale"
	}
	m := map[string]any{
		"num_iid": it.NumIID, "title": it.Title, "price": money(it.Price), "num": it.num(), "outer_id": it.OuterID,
		"approve_status": status, "modified": fmtTime(it.Modified), "nick": s.opts.SellerNick,
	}
	if withSKUs && len(it.SKUs) > 0 {
		var skus []map[string]any
		for _, k := range it.SKUs {
			skus = append(skus, map[string]any{
				"sku_id": k.SkuID, "properties_name": k.Properties, "price": money(k.Price),
				"quantity": k.Quantity, "outer_id": k.OuterID, "modified": fmtTime(k.Modified),
			})
		}
		m["skus"] = map[string]any{"sku": skus}
	}
	return m
}

// RefundIDs lists every refund's id, ascending (ground truth for tests and
// the demo).
func (s *Sim) RefundIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.refunds))
	for id := range s.refunds {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
