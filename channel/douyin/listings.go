package douyin

import (
	"context"
	"strconv"
	"strings"

	"omnihub/channel"
	"omnihub/errs"
)

var _ channel.ListingReader = (*Connector)(nil)

type productItem struct {
	ProductID   ID     `json:"product_id"`
	Name        string `json:"name"`
	Status      int    `json:"status"`       // 0 online, 1 offline, 2 deleted
	CheckStatus int    `json:"check_status"` // 3 approved
}

type skuItem struct {
	ID              ID     `json:"id"`
	ProductID       ID     `json:"product_id"`
	Code            string `json:"code"`
	OutSkuID        ID     `json:"out_sku_id"`
	SpecDetailName1 string `json:"spec_detail_name1"`
	SpecDetailName2 string `json:"spec_detail_name2"`
	SpecDetailName3 string `json:"spec_detail_name3"`
	Price           int64  `json:"price"`
	StockNum        int64  `json:"stock_num"`
}

// ListListings implements channel.ListingReader: product.listV2 pages the
// shop's products (pages start at 1 there, unlike orders; page·size ≤ 10000)
// and sku.list gives each product's SKUs. The cursor is the next product page.
func (c *Connector) ListListings(ctx context.Context, s channel.Session, cursor string) (channel.ListingPage, error) {
	page := 1
	if cursor != "" {
		p, err := strconv.Atoi(cursor)
		if err != nil || p < 1 {
			return channel.ListingPage{}, errs.E(errs.Invalid, "douyin: bad cursor %q", cursor)
		}
		page = p
	}
	const size = 100
	var d struct {
		Data  []productItem `json:"data"`
		Total int           `json:"total"`
	}
	if err := c.call(ctx, s.Credentials, "product.listV2", map[string]any{"page": page, "size": size}, true, &d); err != nil {
		return channel.ListingPage{}, err
	}
	var out channel.ListingPage
	for _, p := range d.Data {
		if p.Status == 2 {
			continue // deleted
		}
		var skus []skuItem
		if err := c.call(ctx, s.Credentials, "sku.list", map[string]any{"product_id": number(string(p.ProductID))}, true, &skus); err != nil {
			return channel.ListingPage{}, err
		}
		for _, k := range skus {
			var spec []string
			for _, n := range []string{k.SpecDetailName1, k.SpecDetailName2, k.SpecDetailName3} {
				if n != "" {
					spec = append(spec, n)
				}
			}
			outer := k.Code
			if outer == "" && k.OutSkuID != "0" {
				outer = string(k.OutSkuID)
			}
			out.Listings = append(out.Listings, channel.Listing{
				PlatformItemID: string(p.ProductID), PlatformSKUID: string(k.ID), OuterID: outer,
				Title: p.Name, SpecName: strings.Join(spec, ";"), Price: k.Price, Quantity: k.StockNum,
				OnSale: p.Status == 0 && p.CheckStatus == 3,
			})
		}
	}
	if page*size < d.Total && page*size < 10000 {
		out.NextCursor = strconv.Itoa(page + 1)
	}
	return out, nil
}

// CreateToken obtains a shop's first access token with token.create: a
// self-use app (自用型) passes the shop id and grant_type authorization_self;
// a tool app (工具型) passes the authorisation code (grant_type
// authorization_code).
func (c *Connector) CreateToken(ctx context.Context, appKey, appSecret, shopID, code string) (channel.Credentials, error) {
	params := map[string]any{"code": code, "grant_type": "authorization_code"}
	if code == "" {
		params["grant_type"] = "authorization_self"
		params["shop_id"] = shopID
	}
	cr := channel.Credentials{AppKey: appKey, AppSecret: appSecret}
	var d struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int64  `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		ShopID       ID     `json:"shop_id"`
	}
	if err := c.call(ctx, cr, "token.create", params, false, &d); err != nil {
		return cr, err
	}
	if d.AccessToken == "" {
		return cr, &channel.APIError{Platform: channel.Douyin, Code: "bad_data", Message: "token.create returned no access_token", Class: channel.ClassTransient}
	}
	cr.AccessToken, cr.RefreshToken = d.AccessToken, d.RefreshToken
	cr.ExpiresAt = c.now().Add(secs(d.ExpiresIn)).UTC()
	if d.ShopID != "" {
		cr.Extra = map[string]string{"shop_id": string(d.ShopID)}
	}
	return cr, nil
}
