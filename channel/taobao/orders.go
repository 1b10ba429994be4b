package taobao

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

// tradeFields are the trade fields OmniHub reads (fields is mandatory on
// every trade API; TOP returns only what is asked for).
const tradeFields = "tid,status,type,step_trade_status,created,modified,pay_time,buyer_nick,buyer_open_uid," +
	"receiver_name,receiver_mobile,receiver_phone,receiver_state,receiver_city,receiver_district,receiver_town," +
	"receiver_address,receiver_zip,total_fee,discount_fee,post_fee,payment,platform_subsidy_fee,buyer_message,seller_memo,orders"

// Documented limits of taobao.trades.sold.increment.get.
const (
	maxTradeWindow   = 24 * time.Hour
	maxTradePageSize = 100
	tradeLookback    = 90 * 24 * time.Hour // "只能获取到三个月以内的交易信息"
)

// PullLimits implements channel.OrderPuller.
func (c *Connector) PullLimits() channel.PullLimits {
	return channel.PullLimits{MaxWindow: maxTradeWindow, MaxPageSize: maxTradePageSize, MaxLookback: tradeLookback}
}

// pageCursor is the page number as an opaque cursor.
func pageCursor(cursor string) (int, error) {
	if cursor == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 1 {
		return 0, errs.E(errs.Invalid, "taobao: bad cursor %q", cursor)
	}
	return n, nil
}

type tradesPage struct {
	Trades       list[json.RawMessage] `json:"trades"`
	HasNext      flexBool              `json:"has_next"`
	TotalResults flexString            `json:"total_results"`
}

// PullOrders implements channel.OrderPuller with
// taobao.trades.sold.increment.get.
//
// TOP returns the window newest-modified first and advises paging from the
// last page back to the first to avoid missing trades: a trade modified
// while we page leaves the window, which shifts every older trade one place
// towards page 1. Paging forwards, one of them would slip into a page
// already read and be missed; paging backwards it can only be read twice,
// which ingestion absorbs. So the first call reads page 1 with
// total_results; if the window fits in it that is all, otherwise pages are
// read from the last to the first (page 1 again, last); the cursor is the
// next page number to read, counting down.
//
// The window and page size are sent as asked so that the platform, not the
// connector, is the judge of its limits; callers keep to PullLimits.
func (c *Connector) PullOrders(ctx context.Context, s channel.Session, q channel.OrderQuery) (channel.OrderPage, error) {
	size := q.PageSize
	if size <= 0 {
		size = maxTradePageSize
	}
	var page int
	if q.Cursor == "" {
		raw, err := c.tradesPage(ctx, s, q, 1, size)
		if err != nil {
			return channel.OrderPage{}, err
		}
		var p tradesPage
		if err := json.Unmarshal(raw, &p); err != nil {
			return channel.OrderPage{}, decodeErr("trades page", "", err)
		}
		var fp fieldParser
		total := fp.int(p.TotalResults)
		if fp.err != nil || total < 0 {
			return channel.OrderPage{}, decodeErr("trades page", "", errs.E(errs.Invalid, "bad total_results %q", p.TotalResults))
		}
		if p.TotalResults == "" && len(p.Trades) >= size {
			// Without the count we cannot page backwards safely.
			return channel.OrderPage{}, decodeErr("trades page", "", errs.E(errs.Invalid, "full page without total_results"))
		}
		if total <= int64(size) {
			// The whole window fits in one page: done in one call.
			orders, err := decodeTradesPage(raw)
			return channel.OrderPage{Orders: orders}, err
		}
		page = int((total + int64(size) - 1) / int64(size))
	} else {
		n, err := pageCursor(q.Cursor)
		if err != nil {
			return channel.OrderPage{}, err
		}
		page = n
	}
	raw, err := c.tradesPage(ctx, s, q, page, size)
	if err != nil {
		return channel.OrderPage{}, err
	}
	orders, err := decodeTradesPage(raw)
	if err != nil {
		return channel.OrderPage{}, err
	}
	out := channel.OrderPage{Orders: orders}
	if page > 1 {
		out.NextCursor = strconv.Itoa(page - 1)
	}
	return out, nil
}

func (c *Connector) tradesPage(ctx context.Context, s channel.Session, q channel.OrderQuery, page, size int) (json.RawMessage, error) {
	return c.Call(ctx, s.Credentials, "taobao.trades.sold.increment.get", map[string]string{
		"fields":         c.fields,
		"start_modified": FormatTime(q.Start),
		"end_modified":   FormatTime(q.End),
		"page_no":        strconv.Itoa(page),
		"page_size":      strconv.Itoa(size),
	})
}

func decodeTradesPage(raw json.RawMessage) ([]channel.Order, error) {
	var p tradesPage
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, decodeErr("trades page", "", err)
	}
	orders := make([]channel.Order, 0, len(p.Trades))
	for _, tr := range p.Trades {
		o, err := decodeTrade(tr)
		if err != nil {
			return nil, err
		}
		orders = append(orders, o)
	}
	return orders, nil
}

func decodeTrade(raw json.RawMessage) (channel.Order, error) {
	var t topTrade
	if err := json.Unmarshal(raw, &t); err != nil {
		return channel.Order{}, decodeErr("trade", "", err)
	}
	return toOrder(t, raw)
}

// GetOrder implements channel.OrderPuller with taobao.trade.fullinfo.get.
func (c *Connector) GetOrder(ctx context.Context, s channel.Session, platformOrderID string) (channel.Order, error) {
	raw, err := c.Call(ctx, s.Credentials, "taobao.trade.fullinfo.get", map[string]string{
		"fields": c.fields, "tid": platformOrderID,
	})
	if err != nil {
		return channel.Order{}, err
	}
	var w struct {
		Trade json.RawMessage `json:"trade"`
	}
	if err := json.Unmarshal(raw, &w); err != nil || len(w.Trade) == 0 {
		return channel.Order{}, decodeErr("trade", platformOrderID, errs.E(errs.Invalid, "no trade in response"))
	}
	return decodeTrade(w.Trade)
}
