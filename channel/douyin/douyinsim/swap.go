package douyinsim

import (
	"fmt"
	"slices"
	"strconv"
)

// Exchanges (换货, aftersale_type 3) and reships (补寄, aftersale_type 7).
//
// Exchange: the buyer asks for another SKU (exchange_sku_info) of a
// shipped line (RequestExchange, status 6); the seller agrees
// (afterSale.operate 301 → 7 待买家退货); the buyer sends the goods back
// (BuyerReturn → 11); the seller confirms receipt and ships the new SKU in
// one operation (afterSale.operate 311 with logistics.company_code and
// logistics_code → 13 换货待买家收货); the buyer signs for it
// (BuyerConfirmExchange → 14 换货成功). 302 refuses before the return.
//
// Reship: the buyer asks for a missing or damaged item to be sent again
// (RequestReship, status 6); the seller agrees in the Douyin back office
// (AgreeReship → 8 待商家发货: no afterSale.operate type for it is
// documented); the seller reports the parcel with afterSale.fillLogistics
// send_type=1 (补寄商家发货), after which the simulator settles the case
// (12 售后成功).
//
// The tag of the pushes for the exchange's shipment and the reship's
// steps (206) is the simulator's own: the platform's was not verified.

func init() {
	if handlers == nil {
		panic("douyinsim: handler table not built before the after-sale additions")
	}
	handlers["afterSale.fillLogistics"] = (*Sim).afterSaleFillLogistics
}

// RequestExchange opens an exchange on a shipped line (lineID 0: the first
// line) for another SKU; tag 200. It returns the after-sale id.
func (s *Sim) RequestExchange(orderID, lineID, exchangeSKU int64, reason string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.skus[exchangeSKU]
	if !ok {
		return 0, fmt.Errorf("douyinsim: no sku %d", exchangeSKU)
	}
	if err := s.shippedLine(orderID); err != nil {
		return 0, err
	}
	if reason == "" {
		reason = "尺码不合适"
	}
	return s.openLocked(orderID, lineID, ASTypeExchange, reason, k)
}

// RequestReship opens a reship (补寄) on a shipped line; tag 200.
func (s *Sim) RequestReship(orderID, lineID int64, reason string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.shippedLine(orderID); err != nil {
		return 0, err
	}
	if reason == "" {
		reason = "少件/漏发"
	}
	return s.openLocked(orderID, lineID, ASTypeReship, reason, nil)
}

func (s *Sim) shippedLine(orderID int64) error {
	o, ok := s.orders[orderID]
	if !ok {
		return fmt.Errorf("douyinsim: no order %d", orderID)
	}
	if o.status != StatusShipped && o.status != StatusCompleted && o.status != StatusPartShipped {
		return fmt.Errorf("douyinsim: order %d was not shipped", orderID)
	}
	return nil
}

// openLocked opens a goods after-sale (no money back) through the common
// request path, then marks what it is.
func (s *Sim) openLocked(orderID, lineID int64, typ int, reason string, want *sku) (int64, error) {
	id, err := s.requestRefundLocked(orderID, lineID, typ, reason)
	if err != nil {
		return 0, err
	}
	a := s.afterSales[id]
	a.amount, a.exchangeSKU = 0, want
	return id, nil
}

// AgreeReship is the seller agreeing to a reship in the back office (→ 8).
func (s *Sim) AgreeReship(asID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.afterSales[asID]
	if !ok || a.typ != ASTypeReship || a.status != ASWaitSeller {
		return fmt.Errorf("douyinsim: after-sale %d is not a reship waiting for the seller", asID)
	}
	a.status, a.update = ASWaitSellerShip, s.now().Unix()
	s.touch(s.orders[a.orderID])
	s.pushAfterSaleLocked(a, "206")
	return nil
}

// BuyerConfirmExchange is the buyer signing for the exchange's new goods (→ 14).
func (s *Sim) BuyerConfirmExchange(asID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.afterSales[asID]
	if !ok || a.status != ASExchangeShipped {
		return fmt.Errorf("douyinsim: after-sale %d has no replacement on its way", asID)
	}
	a.status, a.update = ASExchangeDone, s.now().Unix()
	s.touch(s.orders[a.orderID])
	s.pushAfterSaleLocked(a, "206")
	return nil
}

// AfterSaleParcel is the seller's replacement parcel of an exchange or a
// reship, as the platform recorded it.
func (s *Sim) AfterSaleParcel(asID int64) (company, trackingNo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.afterSales[asID]; ok {
		return a.shipCompany, a.shipNo
	}
	return "", ""
}

// afterSaleFillLogistics serves afterSale.fillLogistics. send_type 1 (补寄
// 商家发货) is the seller's reship parcel; 3 and 4 (the seller filling in
// the buyer's return parcel) are not simulated.
func (s *Sim) afterSaleFillLogistics(m p) (any, error) {
	for _, k := range []string{"aftersale_id", "send_type", "company_code", "tracking_no"} {
		if m.str(k) == "" {
			return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: k + "不能为空"}
		}
	}
	id, err := strconv.ParseInt(m.str("aftersale_id"), 10, 64)
	if err != nil {
		return nil, errBizParam("aftersale_id不合法")
	}
	st, err := m.int("send_type")
	if err != nil {
		return nil, err
	}
	if st != 1 {
		return nil, errBizParam("仅支持send_type=1(补寄商家发货)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.afterSales[id]
	if !ok {
		return nil, errBiz("售后单不存在")
	}
	if a.typ != ASTypeReship || a.status != ASWaitSellerShip {
		return nil, errBiz("售后单当前状态不支持该操作")
	}
	a.shipCompany, a.shipNo = m.str("company_code"), m.str("tracking_no")
	a.status, a.update = ASSucceeded, s.now().Unix()
	s.touch(s.orders[a.orderID])
	s.pushAfterSaleLocked(a, "206")
	return map[string]any{}, nil
}

// AfterSaleIDs lists every after-sale's id, ascending (ground truth for
// tests and the demo).
func (s *Sim) AfterSaleIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.afterSales))
	for id := range s.afterSales {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
