package douyinsim

import (
	"strconv"
)

// SyncStockBatchMax is how many SKUs the simulator accepts in one
// sku.syncStockBatch. The platform documents no number; this is the
// connector's chunk size, so that a connector sending more is caught
// (docs/connectors/douyin.md).
const SyncStockBatchMax = 50

// skuSyncStockBatch is sku.syncStockBatch: several SKUs of one product in
// one call, all or nothing (the documentation's rule: one wrong SKU fails
// the whole request and none is updated). Every entry is checked before
// any is applied. idempotent_id is only checked with incremental=true, as
// documented; a full overwrite needs none.
func (s *Sim) skuSyncStockBatch(m p) (any, error) {
	pid, err := m.int("product_id")
	if err != nil || pid == 0 {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "product_id不能为空"}
	}
	raw, _ := m["sku_sync_list"].([]any)
	if len(raw) == 0 {
		return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "sku_sync_list不能为空"}
	}
	if len(raw) > SyncStockBatchMax {
		return nil, errBizParam("sku_sync_list最多" + strconv.Itoa(SyncStockBatchMax) + "个sku")
	}
	incremental := m.bool("incremental")
	type entry struct {
		id, n int64
	}
	entries := make([]entry, 0, len(raw))
	for i, r := range raw {
		obj, ok := r.(map[string]any)
		if !ok {
			return nil, errParam("isv.parameter-format-invalid", "sku_sync_list["+strconv.Itoa(i)+"]格式不正确")
		}
		e := p(obj)
		id, err := e.int("sku_id")
		if err != nil || id == 0 {
			return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "sku_sync_list[" + strconv.Itoa(i) + "].sku_id不能为空"}
		}
		if typ, err := e.int("sku_type"); err != nil || typ != 0 {
			// 1 (area) and 10 (step) stock exist on the platform; the
			// simulator models normal stock only.
			return nil, errBizParam("模拟器仅支持普通库存(sku_type=0)")
		}
		// stock_num may be absent: the official SDKs omit a zero.
		n, err := e.int("stock_num")
		if err != nil {
			return nil, err
		}
		if !incremental && n < 0 {
			return nil, errBizParam("全量更新时stock_num必须为非负整数")
		}
		entries = append(entries, entry{id, n})
	}
	s.mu.Lock()
	after := map[int64]int64{} // incremental: each SKU's stock once its entries apply
	for _, e := range entries {
		k, ok := s.skus[e.id]
		if !ok {
			s.mu.Unlock()
			return nil, errBiz("sku不存在:" + strconv.FormatInt(e.id, 10))
		}
		if k.productID != pid {
			s.mu.Unlock()
			return nil, errBizParam("sku_id与product_id不匹配:" + strconv.FormatInt(e.id, 10))
		}
		if incremental {
			n, seen := after[e.id]
			if !seen {
				n = k.Stock
			}
			if after[e.id] = n + e.n; after[e.id] < 0 {
				s.mu.Unlock()
				return nil, errBiz("更新库存数失败:库存不能小于0")
			}
		}
	}
	if incremental {
		idem := m.str("idempotent_id")
		if idem == "" {
			s.mu.Unlock()
			return nil, &apiErr{code: 40002, msg: "缺少必选参数", sub: "isv.missing-parameter", sm: "增量更新时idempotent_id不能为空"}
		}
		if s.idem[idem] {
			s.mu.Unlock()
			return nil, errParam("isv.idempotent-id-existed", "幂等ID重复")
		}
		s.idem[idem] = true
	}
	type synced struct{ id, stock int64 }
	done := make([]synced, 0, len(entries))
	for _, e := range entries {
		k := s.skus[e.id]
		k.syncs++
		if incremental {
			k.Stock += e.n
		} else {
			k.Stock = e.n
			k.lastSynced = e.n
		}
		done = append(done, synced{k.SkuID, k.Stock})
	}
	hook := s.opt.OnStockSync
	s.mu.Unlock()
	if hook != nil {
		for _, d := range done {
			hook(d.id, d.stock)
		}
	}
	return map[string]any{}, nil
}
