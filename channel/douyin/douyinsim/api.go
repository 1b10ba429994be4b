package douyinsim

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

func orderStatusDesc(st int) string {
	switch st {
	case StatusPending:
		return "待支付"
	case StatusToShip:
		return "待发货"
	case StatusShipped:
		return "已发货"
	case StatusPartShipped:
		return "部分发货"
	case StatusCancelled:
		return "已取消"
	case StatusCompleted:
		return "已完成"
	}
	return ""
}

// wireOrder renders an order as order.searchList / order.orderDetail do.
func (s *Sim) wireOrder(o *order) map[string]any {
	var skuList []any
	var amount int64
	for _, l := range o.lines {
		st := o.status
		if o.status == StatusPartShipped {
			st = StatusToShip
			if l.shipped >= l.qty {
				st = StatusShipped
			}
		}
		var asInfo map[string]any
		if l.afterSale != 0 {
			a := s.afterSales[l.afterSale]
			asInfo = map[string]any{"after_sale_status": a.status, "after_sale_type": a.typ, "refund_status": map[bool]int{true: 3, false: 1}[a.status == ASSucceeded]}
		} else {
			asInfo = map[string]any{"after_sale_status": 0, "after_sale_type": 0, "refund_status": 0}
		}
		name, val, _ := strings.Cut(l.sku.Spec, ":")
		skuList = append(skuList, map[string]any{
			"order_id": strconv.FormatInt(l.id, 10), "parent_order_id": strconv.FormatInt(o.id, 10),
			"product_id": strconv.FormatInt(l.sku.productID, 10), "sku_id": l.sku.SkuID,
			"out_sku_id": "0", "code": l.sku.Code, "product_name": l.sku.title,
			"spec":     []any{map[string]any{"name": name, "value": val}},
			"item_num": l.qty, "goods_price": l.price, "origin_amount": l.price * l.qty,
			"pay_amount": l.pay, "order_status": st, "after_sale_info": asInfo,
			"create_time": o.create, "update_time": o.update,
		})
		amount += l.price * l.qty
	}
	logistics := []any{}
	for _, pk := range o.packs {
		logistics = append(logistics, map[string]any{"tracking_no": pk.tracking, "company": pk.company, "ship_time": pk.at})
	}
	return map[string]any{
		"order_id": strconv.FormatInt(o.id, 10), "order_level": 2,
		"order_status": o.status, "order_status_desc": orderStatusDesc(o.status),
		"create_time": o.create, "pay_time": o.pay, "update_time": o.update, "finish_time": o.finish,
		"order_amount": amount - o.promo + o.post, "pay_amount": amount - o.promo + o.post,
		"post_amount": o.post, "promotion_amount": o.promo, "promotion_platform_amount": o.platPromo,
		"buyer_words": o.buyerWords, "seller_words": o.sellerWords, "doudian_open_id": o.openID,
		"post_receiver": o.recv.Name, "post_tel": o.recv.Phone,
		"post_addr": map[string]any{
			"province": map[string]any{"name": o.recv.Province, "id": "0"},
			"city":     map[string]any{"name": o.recv.City, "id": "0"},
			"town":     map[string]any{"name": o.recv.District, "id": "0"},
			"street":   map[string]any{"name": o.recv.Street, "id": "0"},
			"detail":   o.recv.Detail,
		},
		"shop_id": s.opt.ShopID, "logistics_info": logistics, "sku_order_list": skuList,
	}
}

func pageArgs(m p) (page, size int64, err error) {
	if page, err = m.int("page"); err != nil {
		return
	}
	if !m.has("size") {
		return 0, 0, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "size不能为空"}
	}
	if size, err = m.int("size"); err != nil {
		return
	}
	if page < 0 {
		return 0, 0, errBizParam("page从0开始，不能为负数")
	}
	if size < 1 || size > 100 {
		return 0, 0, errBizParam("size取值范围为1-100")
	}
	return page, size, nil
}

func (s *Sim) window(m p, startKey, endKey string) (int64, int64, error) {
	start, err := m.int(startKey)
	if err != nil {
		return 0, 0, err
	}
	end, err := m.int(endKey)
	if err != nil {
		return 0, 0, err
	}
	if !m.has(startKey) || !m.has(endKey) {
		return 0, 0, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: startKey + "和" + endKey + "必填"}
	}
	if end < start {
		return 0, 0, errBizParam(endKey + "不能早于" + startKey)
	}
	if end-start > int64(s.opt.MaxWindow.Seconds()) {
		return 0, 0, errBizParam("查询时间跨度不能超过" + s.opt.MaxWindow.String())
	}
	return start, end, nil
}

func (s *Sim) orderSearchList(m p) (any, error) {
	page, size, err := pageArgs(m)
	if err != nil {
		return nil, err
	}
	start, end, err := s.window(m, "update_time_start", "update_time_end")
	if err != nil {
		return nil, err
	}
	if ob := m.str("order_by"); ob != "" && ob != "update_time" && ob != "create_time" {
		return nil, errBizParam("order_by取值为create_time或update_time")
	}
	asc := m.bool("order_asc")
	s.mu.Lock()
	defer s.mu.Unlock()
	oldest := s.now().Add(-90 * 24 * time.Hour).Unix() // the list covers orders created in the last 90 days
	var hits []*order
	for _, o := range s.ordersUpdated(start, end) {
		if o.create >= oldest {
			hits = append(hits, o)
		}
	}
	if !asc {
		for i, j := 0, len(hits)-1; i < j; i, j = i+1, j-1 {
			hits[i], hits[j] = hits[j], hits[i]
		}
	}
	list := []any{}
	for i := page * size; i < int64(len(hits)) && i < (page+1)*size; i++ {
		list = append(list, s.wireOrder(hits[i]))
	}
	return map[string]any{"shop_order_list": list, "page": page, "size": size, "total": len(hits)}, nil
}

func (s *Sim) orderDetail(m p) (any, error) {
	id, err := strconv.ParseInt(m.str("shop_order_id"), 10, 64)
	if err != nil {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "shop_order_id不合法"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil, &apiErr{code: 40004, msg: "非法的参数", sub: "isv.parameter-invalid:60033", sm: "未查询到此订单"}
	}
	return map[string]any{"shop_order_detail": s.wireOrder(o)}, nil
}

func (s *Sim) skuSyncStock(m p) (any, error) {
	skuID, err := m.int("sku_id")
	if err != nil || skuID == 0 {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "sku_id不能为空"}
	}
	n, err := m.int("stock_num")
	if err != nil {
		return nil, err
	}
	if !m.has("stock_num") || n < 0 {
		return nil, errBizParam("stock_num必须为非负整数")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.skus[skuID]
	if !ok {
		return nil, errBiz("sku不存在")
	}
	if pid, _ := m.int("product_id"); pid != 0 && pid != k.productID {
		return nil, errBizParam("product_id与sku_id不匹配")
	}
	if idem := m.str("idempotent_id"); idem != "" {
		if s.idem[idem] {
			return nil, errParam("isv.idempotent-id-existed", "幂等ID重复")
		}
		s.idem[idem] = true
	}
	k.syncs++
	if m.bool("incremental") {
		k.Stock += n
	} else {
		k.Stock = n
		k.lastSynced = n
	}
	if hook := s.opt.OnStockSync; hook != nil {
		id, st := k.SkuID, k.Stock
		s.mu.Unlock()
		hook(id, st)
		s.mu.Lock()
	}
	return map[string]any{}, nil
}

func (s *Sim) productList(m p) (any, error) {
	page, err := m.int("page")
	if err != nil {
		return nil, err
	}
	size, err := m.int("size")
	if err != nil {
		return nil, err
	}
	if page < 1 || page > 100 || size < 1 || size > 100 || page*size > 10000 {
		return nil, errBizParam("page从1开始且不超过100，size取值1-100，page*size不超过10000")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first := map[int64]*sku{}
	for _, k := range s.skus {
		if f, ok := first[k.productID]; !ok || k.SkuID < f.SkuID {
			first[k.productID] = k
		}
	}
	list := []any{}
	for i := (page - 1) * size; i < int64(len(s.products)) && i < page*size; i++ {
		id := s.products[i]
		list = append(list, map[string]any{"product_id": id, "name": first[id].title, "status": 0, "check_status": 3,
			"create_time": 1700000000, "update_time": 1700000000, "outer_product_id": ""})
	}
	return map[string]any{"data": list, "total": len(s.products), "page": page, "size": size}, nil
}

func (s *Sim) skuList(m p) (any, error) {
	pid, err := m.int("product_id")
	if err != nil || pid == 0 {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "product_id不能为空"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []any{}
	for _, id := range s.skuOrder {
		k := s.skus[id]
		if k.productID != pid {
			continue
		}
		_, val, _ := strings.Cut(k.Spec, ":")
		list = append(list, map[string]any{"id": k.SkuID, "product_id": k.productID, "product_id_str": strconv.FormatInt(k.productID, 10),
			"code": k.Code, "out_sku_id": 0, "spec_detail_name1": val, "price": k.Price, "stock_num": k.Stock, "sku_type": 0})
	}
	return list, nil
}

var knownCompanies = map[string]string{
	"shunfeng": "顺丰速运", "zhongtong": "中通快递", "yuantong": "圆通速递", "shentong": "申通快递",
	"yunda": "韵达快递", "jd": "京东物流", "ems": "EMS", "debangwuliu": "德邦快递", "jtexpress": "极兔速递", "huitongkuaidi": "百世快递",
}

func (s *Sim) logisticsArgs(m p) (company, no string, err error) {
	company, no = m.str("company_code"), m.str("logistics_code")
	if company == "" {
		return "", "", &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter:60011", sm: "物流公司Code不能为空"}
	}
	if no == "" {
		return "", "", &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "logistics_code不能为空"}
	}
	if _, ok := knownCompanies[company]; !ok {
		return "", "", &apiErr{code: 40004, msg: "非法的参数", sub: "isv.parameter-invalid:60018", sm: "暂不支持该物流公司或物流商已失效"}
	}
	return company, no, nil
}

// shippable checks an order can take a parcel (codes as the platform's).
func (s *Sim) shippable(o *order, rejectRefund bool) error {
	switch o.status {
	case StatusToShip, StatusPartShipped:
	case StatusShipped:
		return &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed:60110", sm: "订单已发货，不允许再次执行发货"}
	case StatusCompleted:
		return &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed:60113", sm: "订单已完结，禁止发货"}
	case StatusCancelled:
		return &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed:60021", sm: "订单已取消，不支持发货"}
	default:
		return &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed:70023", sm: "没有能发货的订单，请修改后重试"}
	}
	for _, l := range o.lines {
		if l.afterSale != 0 && s.afterSales[l.afterSale].status == ASWaitSeller && !rejectRefund {
			return &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed:60040", sm: "发货订单中有退款申请需要处理，请先处理"}
		}
	}
	return nil
}

func (s *Sim) shipLocked(o *order, company, no string, packID string) {
	now := s.now().Unix()
	o.packs = append(o.packs, pack{id: packID, tracking: no, company: company, at: now})
	o.tracking, o.company, o.shipTime = no, company, now
	o.status = StatusShipped
	for _, l := range o.lines {
		if l.shipped < l.qty {
			o.status = StatusPartShipped
		}
	}
	s.touch(o)
	// The simulator reports partial parcels with tag 102 as well (the
	// order_status in the data says 101).
	s.pushOrderLocked(o, "102")
}

func (s *Sim) logisticsAdd(m p) (any, error) {
	id, err := strconv.ParseInt(m.str("order_id"), 10, 64)
	if err != nil {
		return nil, &apiErr{code: 40004, msg: "非法的参数", sub: "isv.parameter-invalid:50001", sm: "订单号为空或格式错误"}
	}
	company, no, err := s.logisticsArgs(m)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil, &apiErr{code: 40004, msg: "非法的参数", sub: "isv.parameter-invalid:60033", sm: "未查询到此订单"}
	}
	if err := s.shippable(o, m.bool("is_refund_reject") || m.bool("is_reject_refund")); err != nil {
		return nil, err
	}
	for _, l := range o.lines {
		l.shipped = l.qty
	}
	s.shipLocked(o, company, no, "")
	return map[string]any{}, nil
}

// logisticsAddSinglePack ships chosen sub-orders (and quantities) of one or
// more orders in one parcel. request_id makes it idempotent.
func (s *Sim) logisticsAddSinglePack(m p) (any, error) {
	company, no, err := s.logisticsArgs(m)
	if err != nil {
		return nil, err
	}
	reqID := m.str("request_id")
	if reqID == "" {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "request_id不能为空"}
	}
	ids, _ := m["order_id_list"].([]any)
	infos, _ := m["shipped_order_info"].([]any)
	if len(ids) == 0 || len(infos) == 0 {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "order_id_list和shipped_order_info必填"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pk, ok := s.packReqs[reqID]; ok {
		return map[string]any{"pack_id": pk}, nil
	}
	orders := map[int64]*order{}
	for _, v := range ids {
		id, err := strconv.ParseInt(p{"v": v}.str("v"), 10, 64)
		o, ok := s.orders[id]
		if err != nil || !ok {
			return nil, &apiErr{code: 40004, msg: "非法的参数", sub: "isv.parameter-invalid:60033", sm: "未查询到此订单"}
		}
		if err := s.shippable(o, m.bool("is_refund_reject") || m.bool("is_reject_refund")); err != nil {
			return nil, err
		}
		orders[id] = o
	}
	type ship struct {
		l   *line
		qty int64
	}
	var plan []ship
	for _, v := range infos {
		ip := p(asMap(v))
		lid, err := strconv.ParseInt(ip.str("shipped_order_id"), 10, 64)
		if err != nil {
			return nil, &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed:60016", sm: "商品单单号为空或者格式错误"}
		}
		n, err := ip.int("shipped_num")
		if err != nil || n <= 0 {
			return nil, errBizParam("shipped_num必须为正整数")
		}
		o, ok := orders[(lid-6920000000000000000)/10*10+6920000000000000000]
		var l *line
		if ok {
			for _, x := range o.lines {
				if x.id == lid {
					l = x
				}
			}
		}
		if l == nil {
			return nil, &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed:60016", sm: "商品单不属于所传订单"}
		}
		if l.shipped+n > l.qty {
			return nil, &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed:70023", sm: "发货数量超过待发货数量"}
		}
		plan = append(plan, ship{l, n})
	}
	s.packSeq++
	packID := strconv.FormatInt(8100000000000000000+s.packSeq, 10)
	for _, sh := range plan {
		sh.l.shipped += sh.qty
	}
	for _, o := range orders {
		s.shipLocked(o, company, no, packID)
	}
	s.packReqs[reqID] = packID
	return map[string]any{"pack_id": packID}, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func (s *Sim) wireAfterSale(a *afterSale) (map[string]any, map[string]any) {
	info := map[string]any{
		"aftersale_id": strconv.FormatInt(a.id, 10), "aftersale_type": a.typ, "aftersale_status": a.status,
		"refund_amount": a.amount, "aftersale_num": a.num, "reason": a.reason, "remark": a.remark,
		"return_logistics_code": a.returnNo, "return_logistics_company_name": a.returnCompany,
		"create_time": a.create, "update_time": a.update, "related_id": strconv.FormatInt(a.lineID, 10),
		"order_id": strconv.FormatInt(a.orderID, 10), "got_pkg": map[bool]int{true: 1, false: 0}[a.typ != ASTypeRefundUnshipped],
	}
	if x := a.exchangeSKU; x != nil {
		info["exchange_sku_info"] = map[string]any{"sku_id": strconv.FormatInt(x.SkuID, 10), "code": x.Code,
			"num": a.num, "out_sku_id": x.Code, "name": x.title, "price": strconv.FormatInt(x.Price, 10), "spec_desc": x.Spec}
	}
	if a.shipCompany != "" {
		info["exchange_logistics_company_name"] = a.shipCompany
	}
	rel := map[string]any{"sku_order_id": strconv.FormatInt(a.lineID, 10), "aftersale_item_num": a.num}
	if o := s.orders[a.orderID]; o != nil {
		for _, l := range o.lines {
			if l.id == a.lineID {
				rel["product_id"] = l.sku.productID
				rel["shop_sku_code"] = l.sku.Code
			}
		}
	}
	ord := map[string]any{
		"shop_order_id":      strconv.FormatInt(a.orderID, 10),
		"related_order_info": []any{rel},
	}
	return info, ord
}

func (s *Sim) afterSaleList(m p) (any, error) {
	page, size, err := pageArgs(m)
	if err != nil {
		return nil, err
	}
	start, end, err := s.window(m, "update_start_time", "update_end_time")
	if err != nil {
		return nil, err
	}
	if (page+1)*size > 50000 {
		return nil, errBizParam("page*size不能超过50000，请缩小时间范围")
	}
	// An update-time search must be ordered by update time, or the
	// platform's pages may skip cases changed meanwhile.
	ordered := false
	if obs, ok := m["order_by"].([]any); ok {
		for _, ob := range obs {
			if s, _ := ob.(string); strings.HasPrefix(s, "update_time") {
				ordered = true
			}
		}
	}
	if !ordered {
		return nil, errBizParam("按更新时间查询时order_by必须包含update_time")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []*afterSale
	for _, a := range s.afterSales {
		if a.update >= start && a.update <= end {
			hits = append(hits, a)
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].update != hits[j].update {
			return hits[i].update < hits[j].update
		}
		return hits[i].id < hits[j].id
	})
	items := []any{}
	for i := page * size; i < int64(len(hits)) && i < (page+1)*size; i++ {
		info, ord := s.wireAfterSale(hits[i])
		items = append(items, map[string]any{"aftersale_info": info, "order_info": ord})
	}
	return map[string]any{"items": items, "has_more": (page+1)*size < int64(len(hits)), "total": len(hits), "page": page, "size": size}, nil
}

func (s *Sim) afterSaleDetail(m p) (any, error) {
	id, err := strconv.ParseInt(m.str("after_sale_id"), 10, 64)
	if err != nil {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "after_sale_id不合法"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.afterSales[id]
	if !ok {
		return nil, errBiz("售后单不存在")
	}
	info, ord := s.wireAfterSale(a)
	return map[string]any{"process_info": map[string]any{"after_sale_info": info}, "order_info": ord}, nil
}

func (s *Sim) afterSaleOperate(m p) (any, error) {
	typ, err := m.int("type")
	if err != nil {
		return nil, err
	}
	items, _ := m["items"].([]any)
	if len(items) == 0 {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "items不能为空"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		im, _ := it.(map[string]any)
		ip := p(im)
		id, err := strconv.ParseInt(ip.str("aftersale_id"), 10, 64)
		if err != nil {
			return nil, errBizParam("aftersale_id不合法")
		}
		a, ok := s.afterSales[id]
		if !ok {
			return nil, errBiz("售后单不存在")
		}
		refuse := typ == 102 || typ == 112 || typ == 202 || typ == 302
		if refuse && (ip.str("reason") == "" && ip.str("reject_reason_code") == "") {
			return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "拒绝时reject_reason_code必填"}
		}
		now := s.now().Unix()
		switch {
		case typ == 201 && a.status == ASWaitSeller && (a.typ == ASTypeRefundShipped || a.typ == ASTypeRefundUnshipped):
			s.refundSucceededLocked(a)
		case typ == 202 && a.status == ASWaitSeller && a.typ != ASTypeReturn:
			a.status, a.update, a.remark = ASRefusedFirst, now, ip.str("remark")
			s.pushAfterSaleLocked(a, "204")
		case typ == 101 && a.status == ASWaitSeller && a.typ == ASTypeReturn:
			a.status, a.update = ASWaitBuyerReturn, now
			s.pushAfterSaleLocked(a, "202")
		case typ == 102 && a.status == ASWaitSeller && a.typ == ASTypeReturn:
			a.status, a.update, a.remark = ASRefusedFirst, now, ip.str("remark")
			s.pushAfterSaleLocked(a, "205")
		case typ == 111 && a.status == ASWaitSellerSecond && a.typ == ASTypeReturn:
			s.refundSucceededLocked(a)
		case typ == 112 && a.status == ASWaitSellerSecond && a.typ == ASTypeReturn:
			a.status, a.update, a.remark = ASRefusedSecond, now, ip.str("remark")
			s.pushAfterSaleLocked(a, "204")
		case typ == 301 && a.status == ASWaitSeller && a.typ == ASTypeExchange:
			a.status, a.update = ASWaitBuyerReturn, now
			s.pushAfterSaleLocked(a, "202")
		case typ == 302 && a.status == ASWaitSeller && a.typ == ASTypeExchange:
			a.status, a.update, a.remark = ASRefusedFirst, now, ip.str("remark")
			s.pushAfterSaleLocked(a, "205")
		case typ == 311 && a.status == ASWaitSellerSecond && a.typ == ASTypeExchange:
			lg := p(asMap(im["logistics"]))
			if lg.str("company_code") == "" || lg.str("logistics_code") == "" {
				return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "换货发货时logistics.company_code和logistics_code必填"}
			}
			a.status, a.update, a.shipCompany, a.shipNo = ASExchangeShipped, now, lg.str("company_code"), lg.str("logistics_code")
			s.pushAfterSaleLocked(a, "206")
		default:
			return nil, errBiz("售后单当前状态不支持该操作")
		}
		s.touch(s.orders[a.orderID])
	}
	return map[string]any{"items": []any{}}, nil
}
