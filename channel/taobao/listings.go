package taobao

import (
	"context"
	"encoding/json"
	"strconv"

	"omnihub/channel"
)

const (
	itemPageSize   = 200 // taobao.items.onsale.get page_size maximum
	onsaleFields   = "num_iid,title,price,num,outer_id,approve_status,modified"
	itemSKUsFields = "num_iid,title,price,num,outer_id,approve_status,sku"
)

type topItem struct {
	NumIID        flexString   `json:"num_iid"`
	Title         string       `json:"title"`
	Price         string       `json:"price"`
	Num           flexString   `json:"num"`
	OuterID       string       `json:"outer_id"`
	ApproveStatus string       `json:"approve_status"`
	Skus          list[topSKU] `json:"skus"`
}

type topSKU struct {
	SkuID          flexString `json:"sku_id"`
	PropertiesName string     `json:"properties_name"`
	Price          string     `json:"price"`
	Quantity       flexString `json:"quantity"`
	OuterID        string     `json:"outer_id"`
}

// ListListings implements channel.ListingReader: a page of
// taobao.items.onsale.get, then taobao.item.seller.get per item for its
// SKUs (the on-sale list does not carry them). One listing per SKU; an item
// without SKUs is one listing with an empty SKU id.
func (c *Connector) ListListings(ctx context.Context, s channel.Session, cursor string) (channel.ListingPage, error) {
	page, err := pageCursor(cursor)
	if err != nil {
		return channel.ListingPage{}, err
	}
	raw, err := c.Call(ctx, s.Credentials, "taobao.items.onsale.get", map[string]string{
		"fields": onsaleFields, "page_no": strconv.Itoa(page), "page_size": strconv.Itoa(itemPageSize),
	})
	if err != nil {
		return channel.ListingPage{}, err
	}
	var p struct {
		Items        list[topItem] `json:"items"`
		TotalResults flexString    `json:"total_results"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return channel.ListingPage{}, decodeErr("items page", "", err)
	}
	var out channel.ListingPage
	for _, it := range p.Items {
		full, err := c.itemWithSKUs(ctx, s, string(it.NumIID))
		if err != nil {
			return channel.ListingPage{}, err
		}
		ls, err := toListings(full)
		if err != nil {
			return channel.ListingPage{}, err
		}
		out.Listings = append(out.Listings, ls...)
	}
	total, _ := strconv.Atoi(string(p.TotalResults))
	if page*itemPageSize < total && len(p.Items) > 0 {
		out.NextCursor = strconv.Itoa(page + 1)
	}
	return out, nil
}

func (c *Connector) itemWithSKUs(ctx context.Context, s channel.Session, numIID string) (topItem, error) {
	raw, err := c.Call(ctx, s.Credentials, "taobao.item.seller.get", map[string]string{
		"fields": itemSKUsFields, "num_iid": numIID,
	})
	if err != nil {
		return topItem{}, err
	}
	var w struct {
		Item topItem `json:"item"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return topItem{}, decodeErr("item", numIID, err)
	}
	return w.Item, nil
}

func toListings(it topItem) ([]channel.Listing, error) {
	var p fieldParser
	onSale := it.ApproveStatus == "onsale"
	var out []channel.Listing
	if len(it.Skus) == 0 {
		out = append(out, channel.Listing{
			PlatformItemID: string(it.NumIID), OuterID: it.OuterID, Title: it.Title,
			Price: p.fen(it.Price), Quantity: p.int(it.Num), OnSale: onSale,
		})
	}
	for _, sk := range it.Skus {
		out = append(out, channel.Listing{
			PlatformItemID: string(it.NumIID), PlatformSKUID: string(sk.SkuID), OuterID: sk.OuterID,
			Title: it.Title, SpecName: sk.PropertiesName, Price: p.fen(sk.Price),
			Quantity: p.int(sk.Quantity), OnSale: onSale,
		})
	}
	if p.err != nil {
		return nil, decodeErr("item", string(it.NumIID), p.err)
	}
	return out, nil
}
