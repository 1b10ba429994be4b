package taobaosim

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Documented limits the simulator enforces.
const (
	tradeMaxWindow   = 24 * time.Hour
	tradeMaxPageSize = 100
	tradeDefaultPage = 40
	tradeLookback    = 90 * 24 * time.Hour
	itemMaxPageSize  = 200
	refundMaxPage    = 100
	tmcMinQuantity   = 10
	tmcMaxQuantity   = 200
	tmcMaxConfirm    = 200
)

func intParam(p map[string]string, name string, def int64) (int64, *topErr) {
	v := p[name]
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, invalid(name, name+"必须是整数")
	}
	return n, nil
}

func requireAll(p map[string]string, names ...string) *topErr {
	for _, n := range names {
		if strings.TrimSpace(p[n]) == "" {
			return missing(n)
		}
	}
	return nil
}

// paging reads page_no/page_size with a maximum.
func paging(p map[string]string, def, max int64) (int64, int64, *topErr) {
	page, terr := intParam(p, "page_no", 1)
	if terr != nil {
		return 0, 0, terr
	}
	size, terr := intParam(p, "page_size", def)
	if terr != nil {
		return 0, 0, terr
	}
	if page < 1 {
		return 0, 0, invalid("page_no", "page_no必须大于0")
	}
	if size < 1 || size > max {
		return 0, 0, invalid("page_size", "page_size取值范围为1到"+strconv.FormatInt(max, 10))
	}
	return page, size, nil
}

// window reads an optional or required start_modified/end_modified pair.
func (s *Sim) window(p map[string]string, required bool, maxSpan time.Duration) (time.Time, time.Time, bool, *topErr) {
	if !required && p["start_modified"] == "" && p["end_modified"] == "" {
		return time.Time{}, time.Time{}, false, nil
	}
	if terr := requireAll(p, "start_modified", "end_modified"); terr != nil {
		return time.Time{}, time.Time{}, false, terr
	}
	start, err := parseTime(p["start_modified"])
	if err != nil {
		return time.Time{}, time.Time{}, false, invalid("start_modified", "时间格式应为yyyy-MM-dd HH:mm:ss")
	}
	end, err := parseTime(p["end_modified"])
	if err != nil {
		return time.Time{}, time.Time{}, false, invalid("end_modified", "时间格式应为yyyy-MM-dd HH:mm:ss")
	}
	if !end.After(start) {
		return time.Time{}, time.Time{}, false, invalid("end_modified", "end_modified必须大于start_modified")
	}
	if maxSpan > 0 && end.Sub(start) > maxSpan {
		return time.Time{}, time.Time{}, false, invalid("end_modified", "修改时间跨度不能大于一天")
	}
	return start, end, true, nil
}

func pageOf[T any](xs []T, page, size int64) ([]T, bool) {
	from := (page - 1) * size
	if from >= int64(len(xs)) {
		return nil, false
	}
	to := min(from+size, int64(len(xs)))
	return xs[from:to], to < int64(len(xs))
}

func (s *Sim) apiTradesIncrement(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "fields"); terr != nil {
		return nil, terr
	}
	start, end, _, terr := s.window(p, true, tradeMaxWindow)
	if terr != nil {
		return nil, terr
	}
	if s.now().Sub(start) > tradeLookback {
		return nil, invalid("start_modified", "只能获取到三个月以内的交易信息")
	}
	page, size, terr := paging(p, tradeDefaultPage, tradeMaxPageSize)
	if terr != nil {
		return nil, terr
	}
	var hits []*trade
	for _, tid := range s.tradeOrder {
		t := s.trades[tid]
		if !t.Modified.Before(start) && !t.Modified.After(end) && (p["status"] == "" || p["status"] == t.Status) {
			hits = append(hits, t)
		}
	}
	// Documented: ordered by modification time, newest first.
	sort.SliceStable(hits, func(i, j int) bool {
		if !hits[i].Modified.Equal(hits[j].Modified) {
			return hits[i].Modified.After(hits[j].Modified)
		}
		return hits[i].Tid > hits[j].Tid
	})
	fs := fieldSet(p["fields"])
	pg, hasNext := pageOf(hits, page, size)
	trades := make([]map[string]any, 0, len(pg))
	for _, t := range pg {
		trades = append(trades, filter(s.tradeJSON(t), fs))
	}
	resp := map[string]any{"trades": map[string]any{"trade": trades}}
	if p["use_has_next"] == "true" {
		resp["has_next"] = hasNext
	} else {
		resp["total_results"] = len(hits)
	}
	return resp, nil
}

func (s *Sim) tidParam(p map[string]string) (*trade, *topErr) {
	if terr := requireAll(p, "tid"); terr != nil {
		return nil, terr
	}
	tid, err := strconv.ParseInt(p["tid"], 10, 64)
	if err != nil {
		return nil, invalid("tid", "tid必须是数字")
	}
	t, ok := s.trades[tid]
	if !ok {
		return nil, bizErr("isv.trade-not-exist", "交易订单不存在")
	}
	return t, nil
}

func (s *Sim) apiTradeFullinfo(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "fields"); terr != nil {
		return nil, terr
	}
	t, terr := s.tidParam(p)
	if terr != nil {
		return nil, terr
	}
	return map[string]any{"trade": filter(s.tradeJSON(t), fieldSet(p["fields"]))}, nil
}

func (s *Sim) apiItemsOnsale(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "fields"); terr != nil {
		return nil, terr
	}
	page, size, terr := paging(p, 40, itemMaxPageSize)
	if terr != nil {
		return nil, terr
	}
	var onsale []*item
	for _, id := range s.itemOrder {
		if it := s.items[id]; it.OnSale {
			onsale = append(onsale, it)
		}
	}
	fs := fieldSet(p["fields"])
	pg, _ := pageOf(onsale, page, size)
	items := make([]map[string]any, 0, len(pg))
	for _, it := range pg {
		items = append(items, filter(s.itemJSON(it, false), fs))
	}
	return map[string]any{"items": map[string]any{"item": items}, "total_results": len(onsale)}, nil
}

func (s *Sim) itemParam(p map[string]string) (*item, *topErr) {
	if terr := requireAll(p, "num_iid"); terr != nil {
		return nil, terr
	}
	id, err := strconv.ParseInt(p["num_iid"], 10, 64)
	if err != nil {
		return nil, invalid("num_iid", "num_iid必须是数字")
	}
	it, ok := s.items[id]
	if !ok {
		return nil, bizErr("isv.item-not-exist", "商品不存在")
	}
	return it, nil
}

func (s *Sim) apiItemSeller(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "fields"); terr != nil {
		return nil, terr
	}
	it, terr := s.itemParam(p)
	if terr != nil {
		return nil, terr
	}
	fs := fieldSet(p["fields"])
	return map[string]any{"item": filter(s.itemJSON(it, fs["skus"]), fs)}, nil
}

func (s *Sim) apiQuantityUpdate(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "num_iid", "quantity"); terr != nil {
		return nil, terr
	}
	it, terr := s.itemParam(p)
	if terr != nil {
		return nil, terr
	}
	q, terr := intParam(p, "quantity", 0)
	if terr != nil {
		return nil, terr
	}
	typ, terr := intParam(p, "type", 1)
	if terr != nil {
		return nil, terr
	}
	if typ != 1 && typ != 2 {
		return nil, invalid("type", "type只能为1(全量)或2(增量)")
	}
	var k *SKU
	switch {
	case p["sku_id"] != "":
		id, err := strconv.ParseInt(p["sku_id"], 10, 64)
		if err != nil {
			return nil, invalid("sku_id", "sku_id必须是数字")
		}
		if k = it.sku(id); k == nil {
			return nil, bizErr("isv.item-sku-not-exist", "SKU不存在")
		}
	case p["outer_id"] != "":
		for i := range it.SKUs {
			if it.SKUs[i].OuterID == p["outer_id"] {
				k = &it.SKUs[i]
				break
			}
		}
		if k == nil {
			return nil, bizErr("isv.item-sku-not-exist", "商家编码对应的SKU不存在")
		}
	case len(it.SKUs) > 0:
		return nil, invalid("sku_id", "有SKU的商品必须指定sku_id或outer_id")
	}
	cur := it.Quantity
	if k != nil {
		cur = k.Quantity
	}
	next := q
	if typ == 2 {
		next = cur + q
	}
	if next < 0 {
		if typ == 1 {
			return nil, invalid("quantity", "全量更新时quantity必须大于等于0")
		}
		return nil, bizErr("isv.item-quantity-item-update-service-error", "库存不能小于0")
	}
	now := s.now()
	if k != nil {
		k.Quantity, k.Modified = next, now
	} else {
		it.Quantity = next
	}
	it.Modified = now
	resp := map[string]any{"num_iid": it.NumIID, "num": it.num(), "modified": fmtTime(now)}
	if k != nil {
		resp["skus"] = map[string]any{"sku": []map[string]any{{"sku_id": k.SkuID, "quantity": k.Quantity, "modified": fmtTime(now)}}}
	}
	return map[string]any{"item": resp}, nil
}

// knownCompanies are the logistics company codes the simulator accepts
// (taobao.logistics.companies.get would list them).
var knownCompanies = map[string]string{
	"SF": "顺丰速运", "ZTO": "中通快递", "YTO": "圆通速递", "STO": "申通快递", "YUNDA": "韵达快递",
	"EMS": "EMS", "HTKY": "百世快递", "JTSD": "极兔速递", "DBKD": "德邦快递", "POSTB": "邮政快递包裹",
}

func (s *Sim) send(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "tid", "out_sid", "company_code"); terr != nil {
		return nil, terr
	}
	t, terr := s.tidParam(p)
	if terr != nil {
		return nil, terr
	}
	if _, ok := knownCompanies[p["company_code"]]; !ok {
		return nil, bizErr("isv.logistics-company-not-exist", "物流公司不存在:"+p["company_code"])
	}
	var oids []int64
	if p["is_split"] == "1" {
		if terr := requireAll(p, "sub_tid"); terr != nil {
			return nil, terr
		}
		for _, x := range strings.Split(p["sub_tid"], ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, invalid("sub_tid", "sub_tid必须是逗号分隔的子订单号")
			}
			oids = append(oids, id)
		}
	}
	if terr := s.ship(t, p["company_code"], p["out_sid"], oids); terr != nil {
		return nil, terr
	}
	return map[string]any{"shipping": map[string]any{"is_success": true}}, nil
}

func (s *Sim) apiOfflineSend(p map[string]string) (any, *topErr) { return s.send(p) }
func (s *Sim) apiOnlineSend(p map[string]string) (any, *topErr)  { return s.send(p) }

func (s *Sim) apiRefundsReceive(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "fields"); terr != nil {
		return nil, terr
	}
	start, end, has, terr := s.window(p, false, 0)
	if terr != nil {
		return nil, terr
	}
	page, size, terr := paging(p, 40, refundMaxPage)
	if terr != nil {
		return nil, terr
	}
	var hits []*refund
	for _, r := range s.refunds {
		// TOP keeps modification times to the second, and both bounds
		// are inclusive: a refund modified within the end second is in.
		if mod := r.Modified.Truncate(time.Second); has && (mod.Before(start) || mod.After(end)) {
			continue
		}
		if p["status"] != "" && p["status"] != r.Status {
			continue
		}
		hits = append(hits, r)
	}
	sort.Slice(hits, func(i, j int) bool {
		if !hits[i].Modified.Equal(hits[j].Modified) {
			return hits[i].Modified.After(hits[j].Modified)
		}
		return hits[i].RefundID > hits[j].RefundID
	})
	fs := fieldSet(p["fields"])
	pg, hasNext := pageOf(hits, page, size)
	out := make([]map[string]any, 0, len(pg))
	for _, r := range pg {
		out = append(out, filter(s.refundJSON(r), fs))
	}
	resp := map[string]any{"refunds": map[string]any{"refund": out}}
	if p["use_has_next"] == "true" {
		resp["has_next"] = hasNext
	} else {
		resp["total_results"] = len(hits)
	}
	return resp, nil
}

func (s *Sim) refundParam(p map[string]string) (*refund, *topErr) {
	if terr := requireAll(p, "refund_id"); terr != nil {
		return nil, terr
	}
	id, err := strconv.ParseInt(p["refund_id"], 10, 64)
	if err != nil {
		return nil, invalid("refund_id", "refund_id必须是数字")
	}
	r, ok := s.refunds[id]
	if !ok {
		return nil, bizErr("isv.refund-not-exist", "退款单不存在")
	}
	return r, nil
}

func (s *Sim) apiRefundGet(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "fields"); terr != nil {
		return nil, terr
	}
	r, terr := s.refundParam(p)
	if terr != nil {
		return nil, terr
	}
	return map[string]any{"refund": filter(s.refundJSON(r), fieldSet(p["fields"]))}, nil
}

// checkVersion enforces the optimistic version the answering APIs carry.
func checkVersion(r *refund, v string) *topErr {
	if v == "" {
		return nil // Taobao (not Tmall) refunds do not require it
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return invalid("refund_version", "refund_version必须是数字")
	}
	if n != r.Version {
		return bizErr("isv.refund-version-not-match", "退款版本号不是最新,请重新获取")
	}
	return nil
}

func (s *Sim) apiRefundsAgree(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "refund_infos"); terr != nil {
		return nil, terr
	}
	infos := strings.Split(p["refund_infos"], ",")
	if len(infos) > 20 {
		return nil, invalid("refund_infos", "一次最多同意20笔退款")
	}
	var results []map[string]any
	allOK := true
	for _, info := range infos {
		parts := strings.Split(info, "|")
		if len(parts) < 3 {
			return nil, invalid("refund_infos", "格式应为refund_id|amount|version|phase")
		}
		id, err1 := strconv.ParseInt(parts[0], 10, 64)
		amount, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, invalid("refund_infos", "refund_id和amount必须是数字(金额单位为分)")
		}
		res := map[string]any{"refund_id": id, "succ": true, "message": ""}
		fail := func(msg string) { res["succ"], res["message"], allOK = false, msg, false }
		r, ok := s.refunds[id]
		switch {
		case !ok:
			fail("退款单不存在")
		case r.Status != "WAIT_SELLER_AGREE" && r.Status != "WAIT_SELLER_CONFIRM_GOODS":
			fail("退款状态不允许同意:" + r.Status)
		case r.Status == "WAIT_SELLER_AGREE" && r.HasGoodReturn:
			fail("退货退款请先同意退货")
		case amount != r.RefundFee:
			fail("退款金额与申请金额不一致")
		case checkVersion(r, parts[2]) != nil:
			fail("退款版本号不是最新")
		default:
			r.GoodStatus = "BUYER_RETURNED_GOODS"
			s.setRefundStatus(r, "SUCCESS", "taobao_refund_RefundSuccess")
		}
		results = append(results, res)
	}
	return map[string]any{"succ": allOK, "code": "", "msg": "",
		"results": map[string]any{"refund_mapping_result": results}}, nil
}

func (s *Sim) apiReturnGoodsAgree(p map[string]string) (any, *topErr) {
	r, terr := s.refundParam(p)
	if terr != nil {
		return nil, terr
	}
	if p["seller_address_id"] == "" && (p["name"] == "" || p["address"] == "" || p["mobile"] == "") {
		return nil, missing("seller_address_id")
	}
	if terr := checkVersion(r, p["refund_version"]); terr != nil {
		return nil, terr
	}
	if r.Status != "WAIT_SELLER_AGREE" || !r.HasGoodReturn {
		return nil, bizErr("isv.refund-status-not-support", "退款状态不允许同意退货:"+r.Status)
	}
	r.ReturnAddress = strings.TrimSpace(p["name"] + " " + p["mobile"] + " " + p["address"])
	if r.ReturnAddress == "" {
		r.ReturnAddress = "seller_address_id:" + p["seller_address_id"]
	}
	s.setRefundStatus(r, "WAIT_BUYER_RETURN_GOODS", "taobao_refund_RefundSellerAgreeAgreement")
	return map[string]any{"is_success": true}, nil
}

func (s *Sim) apiRefundRefuse(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "refuse_message"); terr != nil {
		return nil, terr
	}
	r, terr := s.refundParam(p)
	if terr != nil {
		return nil, terr
	}
	if n := utf8.RuneCountInString(p["refuse_message"]); n < 2 || n > 200 {
		return nil, invalid("refuse_message", "拒绝说明长度为2-200")
	}
	if terr := checkVersion(r, p["refund_version"]); terr != nil {
		return nil, terr
	}
	if r.Status != "WAIT_SELLER_AGREE" && r.Status != "WAIT_SELLER_CONFIRM_GOODS" {
		return nil, bizErr("isv.refund-status-not-support", "退款状态不允许拒绝:"+r.Status)
	}
	r.RefuseMessage = p["refuse_message"]
	s.setRefundStatus(r, "SELLER_REFUSE_BUYER", "taobao_refund_RefundSellerRefuseAgreement")
	return map[string]any{"refund": map[string]any{"refund_id": r.RefundID, "status": r.Status, "modified": fmtTime(r.Modified)}}, nil
}
