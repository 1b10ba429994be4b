package douyin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

// Push headers set by the platform on every webhook call.
const (
	HeaderAppID     = "app-id"
	HeaderEventSign = "event-sign"
)

// pushAck is the body the platform expects; anything else makes it retry.
var pushAck = []byte(`{"code":0,"msg":"success"}`)

// PushAck implements channel.PushReceiver.
func (c *Connector) PushAck() (int, string, []byte) {
	return http.StatusOK, "application/json", append([]byte(nil), pushAck...)
}

// PushMessage is one element of the pushed JSON array.
type PushMessage struct {
	Tag   string `json:"tag"`
	MsgID string `json:"msg_id"`
	Data  string `json:"data"` // a JSON object, itself serialised as a string
}

// pushData holds the fields of a message's data the connector uses.
type pushData struct {
	PID             ID    `json:"p_id"`
	SID             ID    `json:"s_id"`
	ShopID          ID    `json:"shop_id"`
	AftersaleID     ID    `json:"aftersale_id"`
	CreateTime      int64 `json:"create_time"`
	PayTime         int64 `json:"pay_time"`
	UpdateTime      int64 `json:"update_time"`
	CancelTime      int64 `json:"cancel_time"`
	ShipTime        int64 `json:"ship_time"`
	CompleteTime    int64 `json:"complete_time"`
	ApplyTime       int64 `json:"apply_time"`
	AgreeTime       int64 `json:"agree_time"`
	ModifyTime      int64 `json:"modify_time"`
	RefundTime      int64 `json:"refund_time"`
	CloseTime       int64 `json:"close_time"`
	ReturnBookTime  int64 `json:"return_book_time"`
	RefuseTime      int64 `json:"refuse_time"`
	AftersaleStatus int   `json:"aftersale_status"`
}

func (d pushData) when() time.Time {
	best := int64(0)
	for _, t := range []int64{d.UpdateTime, d.ModifyTime, d.CompleteTime, d.ShipTime, d.CancelTime, d.PayTime, d.CreateTime,
		d.ApplyTime, d.AgreeTime, d.RefundTime, d.CloseTime, d.ReturnBookTime, d.RefuseTime} {
		if t > best {
			best = t
		}
	}
	return epoch(best)
}

// MessageKind maps a push tag to the neutral kind. Trade tags: 100 created,
// 101 paid, 102 shipped, 103 completed, 104 logistics changed, 105 address
// changed, 106 cancelled; after-sales tags 200-208.
func MessageKind(tag string) channel.MessageKind {
	switch tag {
	case "100":
		return channel.MsgOrderCreated
	case "101":
		return channel.MsgOrderPaid
	case "102":
		return channel.MsgOrderShipped
	case "103", "104", "105", "110", "113":
		return channel.MsgOrderModified
	case "106":
		return channel.MsgOrderCanceled
	case "200":
		return channel.MsgRefundCreated
	}
	if n, err := strconv.Atoi(tag); err == nil && n > 200 && n < 300 {
		return channel.MsgRefundChanged
	}
	return channel.MsgOther
}

// ParsePush implements channel.PushReceiver. It checks the app-id header
// against a known app, the event-sign header (md5 of app key, raw body and
// app secret) in constant time, parses the array of messages and rejects
// messages older than MaxPushAge. The platform's verification message (tag
// "0") yields no message; the caller acknowledges it like any other.
func (c *Connector) ParsePush(ctx context.Context, h http.Header, body []byte, appSecretFor func(appKey string) (string, error)) ([]channel.Message, error) {
	appKey := strings.TrimSpace(h.Get(HeaderAppID))
	sign := strings.ToLower(strings.TrimSpace(h.Get(HeaderEventSign)))
	if appKey == "" || sign == "" {
		return nil, errs.E(errs.Unauthorized, "douyin push: missing %s or %s header", HeaderAppID, HeaderEventSign)
	}
	secret, err := appSecretFor(appKey)
	if err != nil || secret == "" {
		return nil, errs.E(errs.Unauthorized, "douyin push: unknown app %s", appKey)
	}
	want := PushSign(appKey, secret, body)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sign)) != 1 {
		return nil, errs.E(errs.Unauthorized, "douyin push: bad event-sign")
	}
	msgs, err := DecodePush(body)
	if err != nil {
		return nil, err
	}
	now := c.now()
	out := make([]channel.Message, 0, len(msgs))
	for _, m := range msgs {
		if m.Tag == "0" {
			continue // the platform's check that the URL answers
		}
		var d pushData
		if m.Data != "" {
			if err := json.Unmarshal([]byte(m.Data), &d); err != nil {
				return nil, errs.E(errs.Invalid, "douyin push: message %s has malformed data: %v", m.MsgID, err)
			}
		}
		at := d.when()
		if !at.IsZero() && now.Sub(at) > c.maxAge {
			return nil, errs.E(errs.Unauthorized, "douyin push: stale message %s from %s", m.MsgID, at.Format(time.RFC3339))
		}
		if at.IsZero() {
			at = now.UTC()
		}
		id := m.MsgID
		if id == "" {
			// Without a msg_id, tag + document + time identifies the event.
			id = m.Tag + ":" + string(d.PID) + string(d.AftersaleID) + ":" + strconv.FormatInt(at.Unix(), 10)
		}
		out = append(out, channel.Message{
			ID: id, Kind: MessageKind(m.Tag), Topic: m.Tag,
			PlatformShopID: string(d.ShopID), PlatformOrderID: string(d.PID),
			PlatformRefundID: string(d.AftersaleID), OccurredAt: at,
			Raw: json.RawMessage(mustJSON(m)),
		})
	}
	return out, nil
}

// DecodePush parses a push body: a JSON array of messages (a single object
// is accepted too).
func DecodePush(body []byte) ([]PushMessage, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, errs.E(errs.Invalid, "douyin push: empty body")
	}
	var msgs []PushMessage
	if b[0] == '{' {
		var m PushMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, errs.E(errs.Invalid, "douyin push: malformed body: %v", err)
		}
		msgs = []PushMessage{m}
	} else if err := json.Unmarshal(b, &msgs); err != nil {
		return nil, errs.E(errs.Invalid, "douyin push: malformed body: %v", err)
	}
	for _, m := range msgs {
		if m.Tag == "" {
			return nil, errs.E(errs.Invalid, "douyin push: message without tag")
		}
	}
	return msgs, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
