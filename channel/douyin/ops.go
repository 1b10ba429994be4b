package douyin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

// carrierCodes maps OmniHub carrier codes to the platform's logistics
// company codes (order/logisticsCompanyList).
var carrierCodes = map[string]string{
	"SF": "shunfeng", "ZTO": "zhongtong", "YTO": "yuantong", "STO": "shentong",
	"YD": "yunda", "YUNDA": "yunda", "JD": "jd", "EMS": "ems", "DBL": "debangwuliu",
	"JT": "jtexpress", "BEST": "huitongkuaidi",
}

// CarrierCode returns the platform company code for an OmniHub carrier code
// (codes the map does not know pass through, lower-cased).
func CarrierCode(omni string) string {
	if c, ok := carrierCodes[strings.ToUpper(omni)]; ok {
		return c
	}
	return strings.ToLower(omni)
}

// UploadShipment implements channel.ShipmentUploader: order.logisticsAdd
// for a whole order, order.logisticsAddSinglePack for chosen sub-orders
// (each shipped in full; its request_id is derived from the shipment so a
// retry is idempotent on the platform). When the platform refuses (e.g.
// already shipped), the order's logistics are read back: the same tracking
// number means an earlier upload got through, which is success.
func (c *Connector) UploadShipment(ctx context.Context, s channel.Session, sh channel.Shipment) error {
	if sh.PlatformOrderID == "" || sh.TrackingNo == "" || sh.CarrierCode == "" {
		return errs.E(errs.Invalid, "douyin: shipment needs order id, carrier and tracking number")
	}
	var err error
	if len(sh.PlatformLineIDs) > 0 {
		err = c.uploadPartial(ctx, s, sh)
	} else {
		params := map[string]any{
			"order_id":       sh.PlatformOrderID,
			"company_code":   CarrierCode(sh.CarrierCode),
			"logistics_code": sh.TrackingNo,
		}
		err = c.call(ctx, s.Credentials, "order.logisticsAdd", params, true, nil)
	}
	var ae *channel.APIError
	if err == nil || !errors.As(err, &ae) || ae.Class != channel.ClassPermanent {
		return err
	}
	_, so, derr := c.orderDetail(ctx, s, sh.PlatformOrderID)
	if derr != nil {
		return err
	}
	for _, l := range so.LogisticsInfo {
		if l.TrackingNo == sh.TrackingNo {
			return nil
		}
	}
	return err
}

// number sends a numeric platform id as a JSON number (the API declares
// int64), exactly as written; anything else stays a string.
func number(id string) any {
	if id == "" {
		return id
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return id
		}
	}
	return json.Number(id)
}

func secs(n int64) time.Duration { return time.Duration(n) * time.Second }

func (c *Connector) uploadPartial(ctx context.Context, s channel.Session, sh channel.Shipment) error {
	_, so, err := c.orderDetail(ctx, s, sh.PlatformOrderID)
	if err != nil {
		return err
	}
	qty := map[string]int64{}
	for _, l := range so.SkuOrderList {
		qty[string(l.OrderID)] = l.ItemNum
	}
	lines := append([]string(nil), sh.PlatformLineIDs...)
	sort.Strings(lines)
	info := make([]map[string]any, 0, len(lines))
	for _, id := range lines {
		n, ok := qty[id]
		if !ok {
			return errs.E(errs.Invalid, "douyin: order %s has no sub-order %s", sh.PlatformOrderID, id)
		}
		info = append(info, map[string]any{"shipped_order_id": id, "shipped_num": n})
	}
	sum := sha256.Sum256([]byte(sh.PlatformOrderID + "|" + strings.Join(lines, ",") + "|" + sh.CarrierCode + "|" + sh.TrackingNo))
	params := map[string]any{
		"order_id_list":      []string{sh.PlatformOrderID},
		"shipped_order_info": info,
		"company_code":       CarrierCode(sh.CarrierCode),
		"logistics_code":     sh.TrackingNo,
		"request_id":         hex.EncodeToString(sum[:16]),
	}
	return c.call(ctx, s.Credentials, "order.logisticsAddSinglePack", params, true, nil)
}

// RefreshToken implements channel.TokenRefresher with token.refresh. The
// platform issues a new refresh token with each access token.
func (c *Connector) RefreshToken(ctx context.Context, cr channel.Credentials) (channel.Credentials, error) {
	if cr.RefreshToken == "" {
		return cr, errs.E(errs.Invalid, "douyin: no refresh token; the shop must authorise again")
	}
	var d struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int64  `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		ShopID       ID     `json:"shop_id"`
	}
	params := map[string]any{"grant_type": "refresh_token", "refresh_token": cr.RefreshToken}
	if err := c.call(ctx, cr, "token.refresh", params, false, &d); err != nil {
		return cr, err
	}
	if d.AccessToken == "" {
		return cr, &channel.APIError{Platform: channel.Douyin, Code: "bad_data", Message: "token.refresh returned no access_token", Class: channel.ClassTransient}
	}
	out := cr
	out.AccessToken = d.AccessToken
	if d.RefreshToken != "" {
		out.RefreshToken = d.RefreshToken
	}
	out.ExpiresAt = c.now().Add(secs(d.ExpiresIn)).UTC()
	if d.ShopID != "" {
		if out.Extra == nil {
			out.Extra = map[string]string{}
		} else {
			extra := make(map[string]string, len(cr.Extra)+1)
			for k, v := range cr.Extra {
				extra[k] = v
			}
			out.Extra = extra
		}
		out.Extra["shop_id"] = string(d.ShopID)
	}
	return out, nil
}
