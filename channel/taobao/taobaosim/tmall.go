package taobaosim

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Tmall exchanges (天猫换货, tmall.exchange.*). A buyer who received a
// trade's goods asks for another SKU of the same item (RequestExchange);
// the seller agrees with a return address (tmall.exchange.agree); the buyer
// sends the goods back with a tracking number (BuyerReturnExchange); the
// seller confirms receipt and ships the new SKU
// (tmall.exchange.confirm.consign, or tmall.exchange.returngoods.agree then
// tmall.exchange.consigngoods); the buyer signs for it
// (BuyerConfirmExchange). The seller may refuse before the return
// (tmall.exchange.refuse) or after it (tmall.exchange.returngoods.refuse).
//
// Statuses are served as the Chinese names TOP returns in the exchange's
// status string; the numbers are those of dispute_status_array.
//
// Exchanges publish no TMC message: we found no documented TMC topic for
// them, so the connector reads them with tmall.exchange.receive.get.

// Exchange statuses (dispute_status_array numbers).
const (
	ExWaitSeller        = 1  // 换货待处理
	ExWaitBuyerReturn   = 2  // 待买家退货
	ExBuyerReturned     = 3  // 买家已退货，待收货
	ExClosed            = 4  // 换货关闭
	ExSucceeded         = 5  // 换货成功
	ExWaitBuyerModify   = 6  // 待买家修改 (the seller refused)
	ExWaitSellerConsign = 12 // 待发出换货商品
	ExWaitBuyerReceive  = 13 // 待买家收货
)

var exchangeStatusNames = map[int]string{
	ExWaitSeller: "换货待处理", ExWaitBuyerReturn: "待买家退货", ExBuyerReturned: "买家已退货，待收货",
	ExClosed: "换货关闭", ExSucceeded: "换货成功", ExWaitBuyerModify: "待买家修改",
	ExWaitSellerConsign: "待发出换货商品", ExWaitBuyerReceive: "待买家收货",
}

type exchange struct {
	DisputeID                            int64
	Tid, Oid                             int64
	NumIID, BoughtSKU, ExchangeSKU       int64
	Num                                  int64
	Status                               int
	Reason, Desc, Title                  string
	BuyerLogisticName, BuyerLogisticNo   string
	SellerLogisticName, SellerLogisticNo string
	Address                              string
	Created, Modified                    time.Time
}

// tmallStore holds the exchanges; every access is under Sim.mu.
type tmallStore struct {
	exchanges map[int64]*exchange
}

func (s *Sim) tmallLocked() *tmallStore {
	if s.tmall == nil {
		s.tmall = &tmallStore{exchanges: map[int64]*exchange{}}
	}
	return s.tmall
}

// Tmall's exchange APIs join the gateway's table (this file sorts after
// sim.go, whose init builds the table).
func init() {
	if apis == nil {
		panic("taobaosim: gateway table not built before the Tmall exchange APIs")
	}
	for m, fn := range map[string]apiFunc{
		"tmall.exchange.receive.get":        (*Sim).apiExchangeReceive,
		"tmall.exchange.get":                (*Sim).apiExchangeGet,
		"tmall.exchange.agree":              (*Sim).apiExchangeAgree,
		"tmall.exchange.refuse":             (*Sim).apiExchangeRefuse,
		"tmall.exchange.returngoods.agree":  (*Sim).apiExchangeReturnGoodsAgree,
		"tmall.exchange.returngoods.refuse": (*Sim).apiExchangeReturnGoodsRefuse,
		"tmall.exchange.consigngoods":       (*Sim).apiExchangeConsignGoods,
		"tmall.exchange.confirm.consign":    (*Sim).apiExchangeConfirmConsign,
	} {
		apis[m] = apiSpec{fn: fn, needSession: true}
	}
}

// ExchangeInfo is a read-only view of an exchange.
type ExchangeInfo struct {
	DisputeID, Tid, Oid     int64
	BoughtSKU, ExchangeSKU  int64
	Num                     int64
	Status                  int
	StatusName              string
	SellerCompany, SellerNo string
	BuyerCompany, BuyerNo   string
	Address                 string
	Created, Modified       time.Time
}

// Exchange returns a view of an exchange.
func (s *Sim) Exchange(disputeID int64) (ExchangeInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.tmallLocked().exchanges[disputeID]
	if !ok {
		return ExchangeInfo{}, false
	}
	return ExchangeInfo{DisputeID: x.DisputeID, Tid: x.Tid, Oid: x.Oid, BoughtSKU: x.BoughtSKU, ExchangeSKU: x.ExchangeSKU,
		Num: x.Num, Status: x.Status, StatusName: exchangeStatusNames[x.Status], SellerCompany: x.SellerLogisticName,
		SellerNo: x.SellerLogisticNo, BuyerCompany: x.BuyerLogisticName, BuyerNo: x.BuyerLogisticNo, Address: x.Address,
		Created: x.Created, Modified: x.Modified}, true
}

// RequestExchange is the buyer asking to exchange a received line for
// another SKU of the same item. It returns the dispute id.
func (s *Sim) RequestExchange(tid, oid, exchangeSKU int64, reason string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tradeLocked(tid)
	if err != nil {
		return 0, err
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
	if o.InvoiceNo == "" {
		return 0, fmt.Errorf("%w: line %d was not shipped: exchanges are for received goods", ErrState, oid)
	}
	it := s.items[o.NumIID]
	if it == nil || it.sku(exchangeSKU) == nil {
		return 0, fmt.Errorf("%w: sku %d is not a SKU of item %d", ErrNotFound, exchangeSKU, o.NumIID)
	}
	st := s.tmallLocked()
	for _, x := range st.exchanges {
		if x.Oid == oid && x.Status != ExClosed && x.Status != ExSucceeded && x.Status != ExWaitBuyerModify {
			return 0, fmt.Errorf("%w: line %d already has exchange %d", ErrState, oid, x.DisputeID)
		}
	}
	if reason == "" {
		reason = "尺码不合适"
	}
	now := s.now()
	x := &exchange{DisputeID: s.nextID(160000000000000), Tid: tid, Oid: oid, NumIID: o.NumIID, BoughtSKU: o.SkuID,
		ExchangeSKU: exchangeSKU, Num: o.Num, Status: ExWaitSeller, Reason: reason, Title: o.Title, Created: now, Modified: now}
	st.exchanges[x.DisputeID] = x
	return x.DisputeID, nil
}

func (s *Sim) exchangeLocked(id int64) (*exchange, error) {
	x, ok := s.tmallLocked().exchanges[id]
	if !ok {
		return nil, fmt.Errorf("%w: exchange %d", ErrNotFound, id)
	}
	return x, nil
}

func (s *Sim) setExchange(x *exchange, st int) {
	x.Status = st
	x.Modified = s.now()
}

// BuyerReturnExchange is the buyer sending the goods back after the
// seller agreed.
func (s *Sim) BuyerReturnExchange(disputeID int64, company, no string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, err := s.exchangeLocked(disputeID)
	if err != nil {
		return err
	}
	if x.Status != ExWaitBuyerReturn {
		return fmt.Errorf("%w: exchange %d is %s", ErrState, disputeID, exchangeStatusNames[x.Status])
	}
	x.BuyerLogisticName, x.BuyerLogisticNo = company, no
	s.setExchange(x, ExBuyerReturned)
	return nil
}

// BuyerConfirmExchange is the buyer signing for the replacement.
func (s *Sim) BuyerConfirmExchange(disputeID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, err := s.exchangeLocked(disputeID)
	if err != nil {
		return err
	}
	if x.Status != ExWaitBuyerReceive {
		return fmt.Errorf("%w: exchange %d is %s", ErrState, disputeID, exchangeStatusNames[x.Status])
	}
	s.setExchange(x, ExSucceeded)
	return nil
}

// CloseExchange is the buyer withdrawing the exchange.
func (s *Sim) CloseExchange(disputeID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, err := s.exchangeLocked(disputeID)
	if err != nil {
		return err
	}
	if x.Status == ExSucceeded || x.Status == ExClosed {
		return fmt.Errorf("%w: exchange %d is %s", ErrState, disputeID, exchangeStatusNames[x.Status])
	}
	s.setExchange(x, ExClosed)
	return nil
}

func (s *Sim) exchangeJSON(x *exchange) map[string]any {
	m := map[string]any{
		"dispute_id": x.DisputeID, "biz_order_id": x.Tid, "num": x.Num, "status": exchangeStatusNames[x.Status],
		"created": fmtTime(x.Created), "modified": fmtTime(x.Modified), "reason": x.Reason, "desc": x.Desc,
		"title": x.Title, "bought_sku": strconv.FormatInt(x.BoughtSKU, 10), "exchange_sku": strconv.FormatInt(x.ExchangeSKU, 10),
		"seller_nick": s.opts.SellerNick, "refund_phase": "aftersale", "address": x.Address,
	}
	if t := s.trades[x.Tid]; t != nil {
		m["buyer_nick"] = t.BuyerNick
	}
	if x.BuyerLogisticNo != "" {
		m["buyer_logistic_name"], m["buyer_logistic_no"] = x.BuyerLogisticName, x.BuyerLogisticNo
	}
	if x.SellerLogisticNo != "" {
		m["seller_logistic_name"], m["seller_logistic_no"] = x.SellerLogisticName, x.SellerLogisticNo
	}
	return m
}

// exchangeResult wraps an answer as tmall.exchange.* do.
func (s *Sim) exchangeResult(x *exchange, fields string) map[string]any {
	ex := s.exchangeJSON(x)
	if fields != "" {
		ex = filter(ex, fieldSet(fields))
	}
	return map[string]any{"result": map[string]any{"success": true, "msg_code": "", "message": "", "exchange": ex}}
}

func exchangeFail(code, msg string) map[string]any {
	return map[string]any{"result": map[string]any{"success": false, "msg_code": code, "message": msg}}
}

func (s *Sim) exchangeParam(p map[string]string) (*exchange, *topErr) {
	if terr := requireAll(p, "dispute_id"); terr != nil {
		return nil, terr
	}
	id, err := strconv.ParseInt(p["dispute_id"], 10, 64)
	if err != nil {
		return nil, invalid("dispute_id", "dispute_id必须是数字")
	}
	x, ok := s.tmallLocked().exchanges[id]
	if !ok {
		return nil, bizErr("isv.exchange-not-exist", "换货单不存在")
	}
	return x, nil
}

func (s *Sim) apiExchangeReceive(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "fields"); terr != nil {
		return nil, terr
	}
	var start, end time.Time
	if v := p["start_gmt_modified_time"]; v != "" {
		t, err := parseTime(v)
		if err != nil {
			return nil, invalid("start_gmt_modified_time", "时间格式应为yyyy-MM-dd HH:mm:ss")
		}
		start = t
	}
	if v := p["end_gmt_modifed_time"]; v != "" {
		t, err := parseTime(v)
		if err != nil {
			return nil, invalid("end_gmt_modifed_time", "时间格式应为yyyy-MM-dd HH:mm:ss")
		}
		end = t
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return nil, invalid("end_gmt_modifed_time", "结束时间不能早于开始时间")
	}
	page, size, terr := paging(p, 20, 100)
	if terr != nil {
		return nil, terr
	}
	var hits []*exchange
	for _, x := range s.tmallLocked().exchanges {
		mod := x.Modified.Truncate(time.Second)
		if (!start.IsZero() && mod.Before(start)) || (!end.IsZero() && mod.After(end)) {
			continue
		}
		hits = append(hits, x)
	}
	sort.Slice(hits, func(i, j int) bool {
		if !hits[i].Modified.Equal(hits[j].Modified) {
			return hits[i].Modified.Before(hits[j].Modified)
		}
		return hits[i].DisputeID < hits[j].DisputeID
	})
	fs := fieldSet(p["fields"])
	fs["biz_order_id"] = fs["biz_order_id"] || fs["bizorder_id"]
	pg, hasNext := pageOf(hits, page, size)
	out := make([]map[string]any, 0, len(pg))
	for _, x := range pg {
		out = append(out, filter(s.exchangeJSON(x), fs))
	}
	return map[string]any{"results": map[string]any{"exchange": out}, "has_next": hasNext,
		"total_results": len(hits), "page_results": len(out)}, nil
}

func (s *Sim) apiExchangeGet(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "fields"); terr != nil {
		return nil, terr
	}
	x, terr := s.exchangeParam(p)
	if terr != nil {
		return nil, terr
	}
	fs := fieldSet(p["fields"])
	fs["biz_order_id"] = fs["biz_order_id"] || fs["bizorder_id"]
	return map[string]any{"result": map[string]any{"success": true, "msg_code": "", "message": "",
		"exchange": filter(s.exchangeJSON(x), fs)}}, nil
}

func (s *Sim) apiExchangeAgree(p map[string]string) (any, *topErr) {
	x, terr := s.exchangeParam(p)
	if terr != nil {
		return nil, terr
	}
	if p["address_id"] == "" && p["complete_address"] == "" {
		return nil, missing("address_id")
	}
	if x.Status != ExWaitSeller {
		return exchangeFail("EXCHANGE_STATUS_ERROR", "换货单当前状态不允许同意:"+exchangeStatusNames[x.Status]), nil
	}
	x.Address = p["complete_address"]
	if x.Address == "" {
		x.Address = "address_id:" + p["address_id"]
	}
	s.setExchange(x, ExWaitBuyerReturn)
	return s.exchangeResult(x, p["fields"]), nil
}

func (s *Sim) refuseExchange(p map[string]string, from int) (any, *topErr) {
	x, terr := s.exchangeParam(p)
	if terr != nil {
		return nil, terr
	}
	if terr := requireAll(p, "seller_refuse_reason_id"); terr != nil {
		return nil, terr
	}
	if x.Status != from {
		return exchangeFail("EXCHANGE_STATUS_ERROR", "换货单当前状态不允许拒绝:"+exchangeStatusNames[x.Status]), nil
	}
	s.setExchange(x, ExWaitBuyerModify)
	return s.exchangeResult(x, p["fields"]), nil
}

func (s *Sim) apiExchangeRefuse(p map[string]string) (any, *topErr) {
	return s.refuseExchange(p, ExWaitSeller)
}

func (s *Sim) apiExchangeReturnGoodsRefuse(p map[string]string) (any, *topErr) {
	return s.refuseExchange(p, ExBuyerReturned)
}

func (s *Sim) apiExchangeReturnGoodsAgree(p map[string]string) (any, *topErr) {
	x, terr := s.exchangeParam(p)
	if terr != nil {
		return nil, terr
	}
	if x.Status != ExBuyerReturned {
		return exchangeFail("EXCHANGE_STATUS_ERROR", "换货单当前状态不允许确认收货:"+exchangeStatusNames[x.Status]), nil
	}
	s.setExchange(x, ExWaitSellerConsign)
	return s.exchangeResult(x, p["fields"]), nil
}

// consign ships the replacement from the given status.
func (s *Sim) consign(p map[string]string, from int) (any, *topErr) {
	x, terr := s.exchangeParam(p)
	if terr != nil {
		return nil, terr
	}
	if terr := requireAll(p, "logistics_no", "logistics_company_name"); terr != nil {
		return nil, terr
	}
	if lt := p["logistics_type"]; lt != "" && lt != "100" && lt != "200" {
		return nil, invalid("logistics_type", "logistics_type取值为100(平邮)或200(快递)")
	}
	if x.Status != from {
		return exchangeFail("EXCHANGE_STATUS_ERROR", "换货单当前状态不允许发货:"+exchangeStatusNames[x.Status]), nil
	}
	x.SellerLogisticName, x.SellerLogisticNo = p["logistics_company_name"], p["logistics_no"]
	s.setExchange(x, ExWaitBuyerReceive)
	return s.exchangeResult(x, p["fields"]), nil
}

func (s *Sim) apiExchangeConsignGoods(p map[string]string) (any, *topErr) {
	return s.consign(p, ExWaitSellerConsign)
}

func (s *Sim) apiExchangeConfirmConsign(p map[string]string) (any, *topErr) {
	return s.consign(p, ExBuyerReturned)
}
