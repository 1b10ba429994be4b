package taobao

import (
	"context"
	"strconv"

	"omnihub/channel"
)

// MaxStockBatch implements channel.StockPusher: taobao.item.quantity.update
// sets one item or SKU per call.
func (c *Connector) MaxStockBatch() int { return 1 }

// PushStock implements channel.StockPusher with taobao.item.quantity.update
// type=1 (全量更新: overwrite), so a repeated push is harmless. An update
// without a SKU id sets the item's own quantity. Platform errors are per
// update; a rate limit, expired session or transient failure stops the
// batch and is returned as the call's error so the caller backs off.
func (c *Connector) PushStock(ctx context.Context, s channel.Session, updates []channel.StockUpdate) ([]channel.StockResult, error) {
	out := make([]channel.StockResult, 0, len(updates))
	for _, u := range updates {
		_, err := c.Call(ctx, s.Credentials, "taobao.item.quantity.update", map[string]string{
			"num_iid":  u.PlatformItemID,
			"sku_id":   u.PlatformSKUID,
			"quantity": strconv.FormatInt(u.Quantity, 10),
			"type":     "1",
		})
		if err != nil && channel.IsRetryable(err) {
			return out, err
		}
		out = append(out, channel.StockResult{Update: u, Err: err})
	}
	return out, nil
}
