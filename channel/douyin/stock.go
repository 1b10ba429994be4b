package douyin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"

	"omnihub/channel"
	"omnihub/errs"
)

// SKUsPerCall is how many SKUs of one product the connector puts in one
// sku.syncStockBatch. The platform documents no limit for the list; 50 is
// our choice (docs/connectors/douyin.md), and the simulator refuses more.
const SKUsPerCall = 50

// MaxStockBatch implements channel.StockPusher: one sku.syncStockBatch
// carries up to SKUsPerCall SKUs of one product.
func (c *Connector) MaxStockBatch() int { return SKUsPerCall }

// PushStock implements channel.StockPusher as full overwrites
// (incremental=false), so a repeated push is harmless. Updates are grouped
// by product, in the order products first appear, into sku.syncStockBatch
// calls of at most SKUsPerCall SKUs; a SKU alone in its group, or one
// without a product id, goes with sku.syncStock. Every call carries an
// idempotent_id; the platform's "idempotent id exists" answer means the
// same update was already applied and counts as success.
//
// sku.syncStockBatch is all or nothing (one wrong SKU fails the call), so
// a platform error of a call is the error of each of its updates — except
// that a permanent refusal of a batch sends its SKUs again one by one with
// sku.syncStock, so that one stale or foreign SKU does not keep its
// siblings' stock from the channel. A rate limit, token error, transient
// failure or cancelled context stops the push: that update and every one
// after it carries the error (results stay in the order of updates).
func (c *Connector) PushStock(ctx context.Context, s channel.Session, updates []channel.StockUpdate) ([]channel.StockResult, error) {
	res := make([]channel.StockResult, len(updates))
	skip := make([]bool, len(updates))
	for i, u := range updates {
		res[i].Update = u
		if u.Quantity < 0 {
			res[i].Err = errs.E(errs.Invalid, "douyin: negative stock %d for sku %s", u.Quantity, u.PlatformSKUID)
			skip[i] = true
		}
	}
	var stop error
	for _, call := range channel.PlanStockCalls(updates, skip, SKUsPerCall, func(u channel.StockUpdate) bool { return u.PlatformItemID == "" }) {
		if stop != nil {
			for _, i := range call {
				res[i].Err = stop
			}
			continue
		}
		stop = c.syncCall(ctx, s, updates, call, res)
	}
	return res, nil
}

// stops reports whether err ends a PushStock: the rest would fail the same
// way now, and retrying later may succeed (or a person must act).
func stops(ctx context.Context, err error) bool {
	return err != nil && (ctx.Err() != nil || channel.IsRetryable(err) || errs.Is(err, errs.Unauthorized))
}

// applied treats the platform's "idempotent id exists" as success.
func applied(err error) error {
	var ae *channel.APIError
	if errors.As(err, &ae) && ae.SubCode == SubIdempotentExist {
		return nil
	}
	return err
}

// syncCall makes one call and records its updates' outcomes in res; it
// returns the error that stops the push, which is then the outcome of
// every update of the call not handled before it.
func (c *Connector) syncCall(ctx context.Context, s channel.Session, updates []channel.StockUpdate, call []int, res []channel.StockResult) error {
	if len(call) == 1 {
		err := c.syncOne(ctx, s, updates[call[0]])
		res[call[0]].Err = err
		if stops(ctx, err) {
			return err
		}
		return nil
	}
	list := make([]map[string]any, len(call))
	h := sha256.New()
	for n, i := range call {
		u := updates[i]
		list[n] = map[string]any{"sku_id": number(u.PlatformSKUID), "sku_type": 0, "stock_num": u.Quantity}
		h.Write([]byte(u.PlatformSKUID + ":" + strconv.FormatInt(u.Quantity, 10) + ";"))
	}
	product := updates[call[0]].PlatformItemID
	params := map[string]any{
		"product_id":    number(product),
		"incremental":   false,
		"idempotent_id": product + "-" + hex.EncodeToString(h.Sum(nil)[:8]) + "-" + strconv.FormatInt(c.now().UnixMilli(), 10),
		"sku_sync_list": list,
	}
	err := applied(c.call(ctx, s.Credentials, "sku.syncStockBatch", params, true, nil))
	var ae *channel.APIError
	if !stops(ctx, err) && errors.As(err, &ae) && ae.Class == channel.ClassPermanent {
		// Find the SKU at fault: each on its own.
		for n, i := range call {
			err := c.syncOne(ctx, s, updates[i])
			if stops(ctx, err) {
				for _, j := range call[n:] {
					res[j].Err = err
				}
				return err
			}
			res[i].Err = err
		}
		return nil
	}
	for _, i := range call {
		res[i].Err = err
	}
	if stops(ctx, err) {
		return err
	}
	return nil
}

// syncOne sets one SKU's stock with sku.syncStock.
func (c *Connector) syncOne(ctx context.Context, s channel.Session, u channel.StockUpdate) error {
	params := map[string]any{
		"product_id":    number(u.PlatformItemID),
		"sku_id":        number(u.PlatformSKUID),
		"stock_num":     u.Quantity,
		"incremental":   false,
		"idempotent_id": u.PlatformSKUID + "-" + strconv.FormatInt(u.Quantity, 10) + "-" + strconv.FormatInt(c.now().UnixMilli(), 10),
	}
	return applied(c.call(ctx, s.Credentials, "sku.syncStock", params, true, nil))
}
