package taobao

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"omnihub/channel"
	"omnihub/errs"
)

// SKUsPerCall is how many SKUs of one item taobao.skus.quantity.update
// sets in one call ("最多支持20个SKU同时修改", docs/connectors/taobao.md).
const SKUsPerCall = 20

// MaxStockBatch implements channel.StockPusher: one
// taobao.skus.quantity.update carries up to SKUsPerCall SKUs of one item.
func (c *Connector) MaxStockBatch() int { return SKUsPerCall }

// PushStock implements channel.StockPusher. SKU updates are grouped by
// item, in the order items first appear, into taobao.skus.quantity.update
// calls of at most SKUsPerCall SKUs ("skuid:qty;skuid:qty", type=1: 全量,
// overwrite, so a repeated push is harmless). An update without a SKU id
// (the item's own quantity), and a SKU alone in its group, go with
// taobao.item.quantity.update type=1. A negative quantity is refused
// before any call.
//
// Results are in the order of updates. A platform error of a call is the
// error of each of its updates, with one refinement: when a batch call is
// refused for a permanent reason (one stale or foreign SKU is enough to
// fail the whole call), its SKUs are sent again one by one with
// taobao.item.quantity.update, so that one bad SKU does not keep its
// siblings' stock from the channel. A rate limit, expired session or
// transient failure stops the push: it is returned as the call's error
// with the results of the updates handled before it.
func (c *Connector) PushStock(ctx context.Context, s channel.Session, updates []channel.StockUpdate) ([]channel.StockResult, error) {
	res := make([]channel.StockResult, len(updates))
	handled := make([]bool, len(updates))
	for i, u := range updates {
		res[i].Update = u
		if u.Quantity < 0 {
			res[i].Err = errs.E(errs.Invalid, "taobao: negative quantity %d for item %s sku %s", u.Quantity, u.PlatformItemID, u.PlatformSKUID)
			handled[i] = true
		}
	}
	for _, call := range planStockCalls(updates, handled, SKUsPerCall) {
		if err := c.pushCall(ctx, s, updates, call, res, handled); err != nil {
			out := make([]channel.StockResult, 0, len(updates))
			for i, r := range res {
				if handled[i] {
					out = append(out, r)
				}
			}
			return out, err
		}
	}
	return res, nil
}

// stockCall is one API call's share of a PushStock: indexes into the
// updates, all of one item.
type stockCall struct {
	item string
	idx  []int
	sku  bool // SKU updates (taobao.skus.quantity.update); else one item-level update
}

// planStockCalls groups the updates not yet handled by item into calls of
// at most max SKUs; an item-level update (no SKU id) is a call of its own.
func planStockCalls(updates []channel.StockUpdate, handled []bool, max int) []stockCall {
	groups := channel.PlanStockCalls(updates, handled, max, func(u channel.StockUpdate) bool { return u.PlatformSKUID == "" })
	calls := make([]stockCall, len(groups))
	for k, idx := range groups {
		first := updates[idx[0]]
		calls[k] = stockCall{item: first.PlatformItemID, idx: idx, sku: first.PlatformSKUID != ""}
	}
	return calls
}

// stops reports whether err ends a PushStock (retrying later may succeed,
// and the rest would fail the same way now).
func stops(ctx context.Context, err error) bool {
	return err != nil && (ctx.Err() != nil || channel.IsRetryable(err))
}

// pushCall makes one call and records its updates' outcomes; it returns
// the error that stops the push.
func (c *Connector) pushCall(ctx context.Context, s channel.Session, updates []channel.StockUpdate, call stockCall, res []channel.StockResult, handled []bool) error {
	if !call.sku || len(call.idx) == 1 {
		i := call.idx[0]
		err := c.quantityUpdate(ctx, s, updates[i])
		if stops(ctx, err) {
			return err
		}
		res[i].Err, handled[i] = err, true
		return nil
	}
	var sb strings.Builder
	for n, i := range call.idx {
		if n > 0 {
			sb.WriteByte(';')
		}
		sb.WriteString(updates[i].PlatformSKUID)
		sb.WriteByte(':')
		sb.WriteString(strconv.FormatInt(updates[i].Quantity, 10))
	}
	_, err := c.Call(ctx, s.Credentials, "taobao.skus.quantity.update", map[string]string{
		"num_iid":          call.item,
		"skuid_quantities": sb.String(),
		"type":             "1",
	})
	if stops(ctx, err) {
		return err
	}
	var ae *channel.APIError
	if err != nil && errors.As(err, &ae) && ae.Class == channel.ClassPermanent {
		// Find the SKU at fault: each on its own.
		for _, i := range call.idx {
			err := c.quantityUpdate(ctx, s, updates[i])
			if stops(ctx, err) {
				return err
			}
			res[i].Err, handled[i] = err, true
		}
		return nil
	}
	for _, i := range call.idx {
		res[i].Err, handled[i] = err, true
	}
	return nil
}

// quantityUpdate sets one item's or SKU's quantity with
// taobao.item.quantity.update type=1.
func (c *Connector) quantityUpdate(ctx context.Context, s channel.Session, u channel.StockUpdate) error {
	_, err := c.Call(ctx, s.Credentials, "taobao.item.quantity.update", map[string]string{
		"num_iid":  u.PlatformItemID,
		"sku_id":   u.PlatformSKUID,
		"quantity": strconv.FormatInt(u.Quantity, 10),
		"type":     "1",
	})
	return err
}
