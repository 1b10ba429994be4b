package order

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/geo"
)

// MixOrder is a generated order with what the audit must decide about it.
type MixOrder struct {
	channel.Order
	// Expect is "" for a clean order (it must pass untouched) or the hold
	// reason the audit must give it.
	Expect string
}

// MixSKUs is the number of SKUs a generated mix uses: platform SKU "PS-i",
// outer code "SKU-i" (i in [0, MixSKUs)).
const MixSKUs = 200

// GenerateMix builds a realistic, reproducible day of orders: valid GB/T
// 2260 addresses, 1–3 lines, ~3% bad addresses, ~5% notes that need a
// person, ~2% harmless notes (invoice, urgent) and ~2% in risk patterns
// (many small orders to one phone).
func GenerateMix(n int, seed uint64, now time.Time) []MixOrder {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	counties := geo.Default().Counties()
	addr := func() channel.Address {
		c := counties[r.IntN(len(counties))]
		city := c.City.Name
		if city == "市辖区" || city == "县" {
			city = c.Province.Name
		}
		if strings.HasSuffix(c.City.Code, "90") {
			city = c.District.Name
		}
		return channel.Address{Province: c.Province.Name, City: city, District: c.District.Name, Detail: fmt.Sprintf("%d号%d室", r.IntN(999)+1, r.IntN(2000)+101)}
	}
	holdNotes := []struct{ note, reason string }{
		{"麻烦改地址到公司", "note_change_address"},
		{"拍错了，改颜色为黑色", "note_change_spec"},
		{"请帮我改尺码XL", "note_change_spec"},
		{"指定快递发顺丰", "note_courier"},
	}
	okNotes := []string{"需要发票，抬头个人", "加急，周末要用"}
	out := make([]MixOrder, 0, n)
	riskLeft, riskPhone, riskK := 0, "", 0
	for i := 0; len(out) < n; i++ {
		paid := now.Add(-time.Duration(r.IntN(600)) * time.Minute).Truncate(time.Second)
		o := channel.Order{
			PlatformOrderID: fmt.Sprintf("T%012d", i), PlatformStatus: "WAIT_SELLER_SEND_GOODS", Status: channel.OrderPaid,
			CreatedAt: paid.Add(-time.Minute), PaidAt: &paid, ModifiedAt: paid,
			BuyerID: fmt.Sprintf("buyer-%d", i), BuyerNick: fmt.Sprintf("买家%d", i), Currency: "CNY",
		}
		o.Receiver = addr()
		o.Receiver.Name = "张" + string(rune('一'+r.IntN(200)))
		o.Receiver.Phone = fmt.Sprintf("1%02d%08d", 30+r.IntN(60), i)
		nl := 1 + r.IntN(3)
		for l := 0; l < nl; l++ {
			k := r.IntN(MixSKUs)
			qty := int64(1 + r.IntN(2))
			price := int64(1990 + 100*k)
			o.Lines = append(o.Lines, channel.OrderLine{PlatformLineID: fmt.Sprintf("%s-%d", o.PlatformOrderID, l), PlatformItemID: fmt.Sprintf("PI-%d", k/4),
				PlatformSKUID: fmt.Sprintf("PS-%d", k), OuterSKUID: fmt.Sprintf("SKU-%d", k), Title: fmt.Sprintf("商品%d", k), Quantity: qty, Price: price, Paid: price * qty})
			o.GoodsAmount += price * qty
		}
		o.PaidAmount = o.GoodsAmount
		m := MixOrder{Order: o}
		x := r.IntN(1000)
		switch {
		case riskLeft > 0:
			// The rest of a risk group: same phone, small amounts.
			m.Receiver.Phone = riskPhone
			m.PaidAmount, m.GoodsAmount = 500, 500
			if riskK >= 3 {
				m.Expect = "risk_phone_frequency"
			}
			riskK++
			riskLeft--
		case x < 30:
			switch r.IntN(4) {
			case 0:
				m.Receiver.District = "不存在区"
			case 1:
				m.Receiver.City = "火星市"
			case 2:
				m.Receiver.Province = "外星省"
			default:
				m.Receiver.District = ""
			}
			// Cities without counties (东莞, 中山…) accept any district.
			if geo.Default().Resolve(m.Receiver.Province, m.Receiver.City, m.Receiver.District).OK() {
				m.Receiver.City = "火星市"
			}
			m.Expect = ReasonBadAddress
		case x < 80:
			h := holdNotes[r.IntN(len(holdNotes))]
			m.BuyerNote, m.Expect = h.note, h.reason
		case x < 100:
			m.SellerNote = okNotes[r.IntN(len(okNotes))]
		case x < 104:
			// Start a risk group of 5 small orders to one phone.
			riskPhone, riskK, riskLeft = m.Receiver.Phone, 1, 4
			m.PaidAmount, m.GoodsAmount = 500, 500
		}
		out = append(out, m)
	}
	return out
}
