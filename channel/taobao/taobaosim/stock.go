package taobaosim

import (
	"strconv"
	"strings"
)

// skusQuantityMax is how many SKUs one taobao.skus.quantity.update may set
// ("最多支持20个SKU同时修改", for skuid_quantities and outerid_quantities
// alike; docs/connectors/taobao.md).
const skusQuantityMax = 20

// QuantityUpdates reports how many item or SKU quantities the stock APIs
// have set: one per taobao.item.quantity.update and one per SKU of each
// taobao.skus.quantity.update, so that a count of pushed SKUs can be
// checked whatever API carried them.
func (s *Sim) QuantityUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stockSets
}

// apiItemQuantityUpdate is taobao.item.quantity.update, counted.
func (s *Sim) apiItemQuantityUpdate(p map[string]string) (any, *topErr) {
	resp, terr := s.apiQuantityUpdate(p)
	if terr == nil {
		s.stockSets++
	}
	return resp, terr
}

// skuQuantity is one entry of skuid_quantities / outerid_quantities,
// resolved to its SKU.
type skuQuantity struct {
	sku *SKU
	qty int64
}

// apiSkusQuantityUpdate is taobao.skus.quantity.update: several SKUs of
// one item, given as "skuId:qty;skuId:qty" (or outerid_quantities, used
// only when skuid_quantities is empty; an outer id matching several SKUs
// sets them all). type 1 overwrites (quantities ≥ 0), type 2 adds and
// floors at 0, as documented. The call is all or nothing: every entry is
// checked (format, limit, the SKU belongs to num_iid) before any is
// applied.
func (s *Sim) apiSkusQuantityUpdate(p map[string]string) (any, *topErr) {
	it, terr := s.itemParam(p)
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
	name, byOuter := "skuid_quantities", false
	if strings.TrimSpace(p[name]) == "" {
		name, byOuter = "outerid_quantities", true
		if strings.TrimSpace(p[name]) == "" {
			return nil, missing("skuid_quantities")
		}
	}
	var entries []string
	for _, e := range strings.Split(p[name], ";") {
		if e = strings.TrimSpace(e); e != "" {
			entries = append(entries, e)
		}
	}
	if len(entries) == 0 {
		return nil, invalid(name, "格式应为key:库存修改值;key:库存修改值")
	}
	if len(entries) > skusQuantityMax {
		return nil, invalid(name, "最多支持"+strconv.Itoa(skusQuantityMax)+"个SKU同时修改")
	}
	if len(it.SKUs) == 0 {
		return nil, bizErr("isv.item-sku-not-exist", "商品没有SKU,请使用taobao.item.quantity.update修改商品库存")
	}
	var todo []skuQuantity
	for _, e := range entries {
		i := strings.LastIndexByte(e, ':')
		if i <= 0 {
			return nil, invalid(name, "格式应为key:库存修改值,多个以;分隔: "+e)
		}
		key := strings.TrimSpace(e[:i])
		q, err := strconv.ParseInt(strings.TrimSpace(e[i+1:]), 10, 64)
		if err != nil {
			return nil, invalid(name, "库存修改值必须是整数: "+e)
		}
		if typ == 1 && q < 0 {
			return nil, invalid(name, "全量更新时库存修改值必须大于等于0: "+e)
		}
		if !byOuter {
			id, err := strconv.ParseInt(key, 10, 64)
			if err != nil {
				return nil, invalid(name, "skuId必须是数字: "+e)
			}
			k := it.sku(id)
			if k == nil {
				return nil, bizErr("isv.item-sku-not-exist", "SKU "+key+" 不属于商品 "+strconv.FormatInt(it.NumIID, 10))
			}
			todo = append(todo, skuQuantity{k, q})
			continue
		}
		n := len(todo)
		for j := range it.SKUs {
			if it.SKUs[j].OuterID == key {
				todo = append(todo, skuQuantity{&it.SKUs[j], q})
			}
		}
		if len(todo) == n {
			return nil, bizErr("isv.item-sku-not-exist", "商家编码 "+key+" 对应的SKU不存在")
		}
	}
	now := s.now()
	skus := make([]map[string]any, 0, len(todo))
	for _, t := range todo {
		next := t.qty
		if typ == 2 {
			next = max(0, t.sku.Quantity+t.qty)
		}
		t.sku.Quantity, t.sku.Modified = next, now
		s.stockSets++
		skus = append(skus, map[string]any{"sku_id": t.sku.SkuID, "quantity": next, "modified": fmtTime(now)})
	}
	it.Modified = now
	return map[string]any{"item": map[string]any{"num_iid": it.NumIID, "num": it.num(), "modified": fmtTime(now),
		"skus": map[string]any{"sku": skus}}}, nil
}
