package channel

// PlanStockCalls groups stock updates for a platform whose batch stock API
// takes SKUs of one item per call. It returns calls as indexes into
// updates: the updates not skipped, grouped by PlatformItemID in the order
// items first appear, at most max per call. An update for which alone
// reports true is a call of its own. A SKU repeated within an item starts a
// new call, so that the later value is sent later.
func PlanStockCalls(updates []StockUpdate, skip []bool, max int, alone func(StockUpdate) bool) [][]int {
	var calls [][]int
	open := map[string]int{} // item → its call still taking SKUs
	for i, u := range updates {
		if skip[i] {
			continue
		}
		if alone(u) {
			calls = append(calls, []int{i})
			continue
		}
		if k, ok := open[u.PlatformItemID]; ok && len(calls[k]) < max && !hasSKU(updates, calls[k], u.PlatformSKUID) {
			calls[k] = append(calls[k], i)
			continue
		}
		open[u.PlatformItemID] = len(calls)
		calls = append(calls, []int{i})
	}
	return calls
}

func hasSKU(updates []StockUpdate, idx []int, sku string) bool {
	for _, i := range idx {
		if updates[i].PlatformSKUID == sku {
			return true
		}
	}
	return false
}
