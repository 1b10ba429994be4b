package taobao

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

const (
	refundFields   = "refund_id,tid,oid,status,good_status,has_good_return,refund_fee,total_fee,reason,desc,num,company_name,sid,created,modified,order_status,refund_phase,refund_version"
	refundPageSize = 100 // taobao.refunds.receive.get page_size maximum (default 40)
	// taobao.refunds.receive.get documents no limit on the modification
	// window (unlike the trade increment API's one day). A day, like
	// trades, keeps each window's pages few: paging forwards, a refund
	// modified during the pull can shift another into a page already read,
	// and fewer pages mean fewer such chances (the overlap of the next
	// window and reconciliation pick it up).
	maxRefundWindow = 24 * time.Hour
)

// RefundPullLimits implements channel.RefundPuller. No lookback limit is
// documented for refunds.
func (c *Connector) RefundPullLimits() channel.PullLimits {
	return channel.PullLimits{MaxWindow: maxRefundWindow, MaxPageSize: refundPageSize}
}

// PullRefunds implements channel.RefundPuller with
// taobao.refunds.receive.get (by modification time, use_has_next paging).
// Like PullOrders it sends the window and page size as asked, so that the
// platform judges them; callers keep to RefundPullLimits. For a shop with
// Tmall exchanges on, the same window then pages through
// tmall.exchange.receive.get (cursor "exchanges:<page>").
func (c *Connector) PullRefunds(ctx context.Context, s channel.Session, q channel.RefundQuery) (channel.RefundPage, error) {
	if rest, ok := strings.CutPrefix(q.Cursor, exchangeCursor); ok && rest != "" && exchangesOn(s) {
		page, err := pageCursor(rest)
		if err != nil {
			return channel.RefundPage{}, err
		}
		return c.pullExchanges(ctx, s, q, page)
	}
	page, err := pageCursor(q.Cursor)
	if err != nil {
		return channel.RefundPage{}, err
	}
	size := q.PageSize
	if size <= 0 {
		size = refundPageSize
	}
	raw, err := c.Call(ctx, s.Credentials, "taobao.refunds.receive.get", map[string]string{
		"fields":         refundFields,
		"start_modified": FormatTime(q.Start),
		"end_modified":   FormatTime(q.End),
		"page_no":        strconv.Itoa(page),
		"page_size":      strconv.Itoa(size),
		"use_has_next":   "true",
	})
	if err != nil {
		return channel.RefundPage{}, err
	}
	var p struct {
		Refunds list[json.RawMessage] `json:"refunds"`
		HasNext flexBool              `json:"has_next"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return channel.RefundPage{}, decodeErr("refunds page", "", err)
	}
	var out channel.RefundPage
	for _, r := range p.Refunds {
		rf, err := decodeRefund(r)
		if err != nil {
			return channel.RefundPage{}, err
		}
		out.Refunds = append(out.Refunds, rf)
	}
	if p.HasNext {
		out.NextCursor = strconv.Itoa(page + 1)
	} else if exchangesOn(s) {
		out.NextCursor = exchangeCursor + "1"
	}
	return out, nil
}

func decodeRefund(raw json.RawMessage) (channel.Refund, error) {
	var r topRefund
	if err := json.Unmarshal(raw, &r); err != nil {
		return channel.Refund{}, decodeErr("refund", "", err)
	}
	return toRefund(r, raw)
}

func (c *Connector) getRefund(ctx context.Context, s channel.Session, id string) (topRefund, json.RawMessage, error) {
	raw, err := c.Call(ctx, s.Credentials, "taobao.refund.get", map[string]string{
		"fields": refundFields, "refund_id": id,
	})
	if err != nil {
		return topRefund{}, nil, err
	}
	var w struct {
		Refund json.RawMessage `json:"refund"`
	}
	if err := json.Unmarshal(raw, &w); err != nil || len(w.Refund) == 0 {
		return topRefund{}, nil, decodeErr("refund", id, errs.E(errs.Invalid, "no refund in response"))
	}
	var r topRefund
	if err := json.Unmarshal(w.Refund, &r); err != nil {
		return topRefund{}, nil, decodeErr("refund", id, err)
	}
	return r, w.Refund, nil
}

// GetRefund implements channel.RefundPuller with taobao.refund.get, or
// tmall.exchange.get for an exchange ("exchange:<dispute_id>").
func (c *Connector) GetRefund(ctx context.Context, s channel.Session, id string) (channel.Refund, error) {
	if dispute, ok := strings.CutPrefix(id, ExchangePrefix); ok {
		return c.getExchangeRefund(ctx, s, dispute)
	}
	r, raw, err := c.getRefund(ctx, s, id)
	if err != nil {
		return channel.Refund{}, err
	}
	return toRefund(r, raw)
}

// AnswerRefund implements channel.RefundResponder. It reads the refund
// first: the answering APIs need its version and phase, and the right API
// depends on its state.
//
//   - agree on a refund-only case, or confirm_receipt after the buyer sent
//     the goods back: taobao.rp.refunds.agree (refund_infos
//     "refund_id|amount in fen|version|phase").
//   - agree on a return case waiting for the seller: taobao.rp.returngoods.agree
//     with the return address (ReturnAddress, or the shop's
//     Extra["seller_address_id"]).
//   - refuse: taobao.refund.refuse.
//
// Answering a case that is already in the asked-for state succeeds.
// Exchanges are answered through tmall.exchange.* (answerExchange).
func (c *Connector) AnswerRefund(ctx context.Context, s channel.Session, d channel.RefundDecision) error {
	if dispute, ok := strings.CutPrefix(d.PlatformRefundID, ExchangePrefix); ok {
		return c.answerExchange(ctx, s, dispute, d)
	}
	r, _, err := c.getRefund(ctx, s, d.PlatformRefundID)
	if err != nil {
		return err
	}
	switch d.Action {
	case channel.RefundAgree, channel.RefundConfirmReceipt:
		if r.Status == "SUCCESS" {
			return nil
		}
		if d.Action == channel.RefundAgree && bool(r.HasGoodReturn) && r.Status == "WAIT_SELLER_AGREE" {
			return c.agreeReturn(ctx, s, r, d)
		}
		if r.Status == "WAIT_BUYER_RETURN_GOODS" && d.Action == channel.RefundAgree {
			return nil // already agreed, waiting for the goods
		}
		fen, err := ParseFen(r.RefundFee)
		if err != nil {
			return decodeErr("refund", d.PlatformRefundID, err)
		}
		info := strings.Join([]string{string(r.RefundID), strconv.FormatInt(fen, 10), string(r.RefundVersion), r.RefundPhase}, "|")
		raw, err := c.Call(ctx, s.Credentials, "taobao.rp.refunds.agree", map[string]string{"refund_infos": info})
		if err != nil {
			return err
		}
		return agreeResult(raw)
	case channel.RefundRefuse:
		if r.Status == "SELLER_REFUSE_BUYER" {
			return nil
		}
		msg := d.Reason
		if len([]rune(msg)) < 2 {
			msg = "卖家拒绝退款" // refuse_message must be 2-200 characters
		}
		_, err := c.Call(ctx, s.Credentials, "taobao.refund.refuse", map[string]string{
			"refund_id": string(r.RefundID), "refuse_message": msg,
			"refund_phase": r.RefundPhase, "refund_version": string(r.RefundVersion),
		})
		return err
	}
	return errs.E(errs.Invalid, "taobao: unknown refund action %q", d.Action)
}

func (c *Connector) agreeReturn(ctx context.Context, s channel.Session, r topRefund, d channel.RefundDecision) error {
	p := map[string]string{
		"refund_id":         string(r.RefundID),
		"refund_version":    string(r.RefundVersion),
		"refund_phase":      r.RefundPhase,
		"seller_address_id": s.Credentials.Extra["seller_address_id"],
		"remark":            d.Reason,
	}
	if a := d.ReturnAddress; a != nil {
		p["name"] = a.Name
		p["mobile"] = a.Phone
		p["address"] = strings.Join([]string{a.Province, a.City, a.District, a.Town, a.Detail}, "")
		p["post"] = a.Zip
	}
	if p["seller_address_id"] == "" && d.ReturnAddress == nil {
		return errs.E(errs.Invalid, "taobao: agreeing to a return needs a return address or the shop's seller_address_id")
	}
	_, err := c.Call(ctx, s.Credentials, "taobao.rp.returngoods.agree", p)
	return err
}

// agreeResult reads taobao.rp.refunds.agree's answer: a batch call that
// succeeds as a call but reports each refund's outcome in results.
func agreeResult(raw json.RawMessage) error {
	var r struct {
		Succ    flexBool `json:"succ"`
		Msg     string   `json:"msg"`
		Code    string   `json:"code"`
		Results list[struct {
			RefundID flexString `json:"refund_id"`
			Succ     flexBool   `json:"succ"`
			Message  string     `json:"message"`
		}] `json:"results"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return decodeErr("refunds agree", "", err)
	}
	if r.Succ {
		return nil
	}
	msg := r.Msg
	for _, x := range r.Results {
		if !x.Succ {
			msg = strings.TrimSpace(msg + " " + string(x.RefundID) + ": " + x.Message)
		}
	}
	return &channel.APIError{Platform: channel.Taobao, Code: "agree_failed", SubCode: r.Code, Message: msg, Class: channel.ClassPermanent}
}
