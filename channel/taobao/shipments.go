package taobao

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"omnihub/channel"
	"omnihub/errs"
)

// CompanyCode maps OmniHub's carrier code to TOP's logistics company code
// (taobao.logistics.companies.get). The common express companies use the
// same letters on both sides; a shop can override any mapping with
// Credentials.Extra["carrier:<CODE>"].
func CompanyCode(carrier string, extra map[string]string) string {
	c := strings.ToUpper(strings.TrimSpace(carrier))
	if v := extra["carrier:"+c]; v != "" {
		return v
	}
	if v, ok := companyAliases[c]; ok {
		return v
	}
	return c
}

var companyAliases = map[string]string{
	"SHUNFENG":  "SF",
	"ZHONGTONG": "ZTO",
	"YUANTONG":  "YTO",
	"SHENTONG":  "STO",
	"YD":        "YUNDA",
}

// UploadShipment implements channel.ShipmentUploader with
// taobao.logistics.offline.send (自己联系物流), or
// taobao.logistics.online.send when the shop's
// Credentials.Extra["logistics_mode"] is "online" (在线下单). A shipment of
// some lines is sent as a split (is_split=1, sub_tid=the oids).
//
// Uploading the same parcel twice is harmless: when TOP refuses because the
// trade is no longer waiting for shipment, the trade is read back and the
// upload counts as done if the lines already carry this tracking number.
func (c *Connector) UploadShipment(ctx context.Context, s channel.Session, sh channel.Shipment) error {
	if sh.PlatformOrderID == "" || sh.TrackingNo == "" || sh.CarrierCode == "" {
		return errs.E(errs.Invalid, "taobao: shipment needs order id, carrier and tracking number")
	}
	method := "taobao.logistics.offline.send"
	if s.Credentials.Extra["logistics_mode"] == "online" {
		method = "taobao.logistics.online.send"
	}
	params := map[string]string{
		"tid":          sh.PlatformOrderID,
		"out_sid":      sh.TrackingNo,
		"company_code": CompanyCode(sh.CarrierCode, s.Credentials.Extra),
	}
	if len(sh.PlatformLineIDs) > 0 {
		params["is_split"] = "1"
		params["sub_tid"] = strings.Join(sh.PlatformLineIDs, ",")
	}
	raw, err := c.Call(ctx, s.Credentials, method, params)
	if err != nil {
		var ae *channel.APIError
		if errors.As(err, &ae) && ae.Class == channel.ClassPermanent {
			if done, cerr := c.alreadyShipped(ctx, s, sh); cerr == nil && done {
				return nil
			}
		}
		return err
	}
	var r struct {
		Shipping struct {
			IsSuccess flexBool `json:"is_success"`
		} `json:"shipping"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || !r.Shipping.IsSuccess {
		return &channel.APIError{Platform: channel.Taobao, Code: "ship_failed",
			Message: "logistics send answered is_success=false", Class: channel.ClassPermanent}
	}
	return nil
}

func (c *Connector) alreadyShipped(ctx context.Context, s channel.Session, sh channel.Shipment) (bool, error) {
	raw, err := c.Call(ctx, s.Credentials, "taobao.trade.fullinfo.get", map[string]string{
		"fields": "tid,status,orders", "tid": sh.PlatformOrderID,
	})
	if err != nil {
		return false, err
	}
	var w struct {
		Trade topTrade `json:"trade"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return false, err
	}
	want := map[string]bool{}
	for _, id := range sh.PlatformLineIDs {
		want[id] = true
	}
	matched := 0
	for _, o := range w.Trade.Orders {
		if len(want) > 0 && !want[string(o.Oid)] {
			continue
		}
		if len(want) == 0 && o.RefundStatus == "SUCCESS" {
			continue // refunded lines are never shipped
		}
		if o.InvoiceNo != sh.TrackingNo {
			return false, nil
		}
		matched++
	}
	return matched > 0, nil
}
