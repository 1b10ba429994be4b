package taobaosim

import (
	"fmt"
)

// Realistic data for generated trades. Everything is drawn from the seeded
// source, so a given seed gives the same shop every time.

var surnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"}
var givenNames = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "婷婷", "子涵", "浩然", "一诺"}

type district struct{ province, city, district, zip string }

var districts = []district{
	{"浙江省", "杭州市", "西湖区", "310013"}, {"浙江省", "杭州市", "余杭区", "311121"}, {"浙江省", "宁波市", "鄞州区", "315100"},
	{"广东省", "深圳市", "南山区", "518057"}, {"广东省", "广州市", "天河区", "510630"}, {"广东省", "东莞市", "南城街道", "523073"},
	{"北京", "北京市", "朝阳区", "100020"}, {"北京", "北京市", "海淀区", "100080"}, {"上海", "上海市", "浦东新区", "200120"},
	{"上海", "上海市", "徐汇区", "200030"}, {"江苏省", "南京市", "鼓楼区", "210008"}, {"江苏省", "苏州市", "工业园区", "215021"},
	{"四川省", "成都市", "武侯区", "610041"}, {"湖北省", "武汉市", "洪山区", "430070"}, {"山东省", "青岛市", "市南区", "266071"},
	{"福建省", "厦门市", "思明区", "361001"}, {"陕西省", "西安市", "雁塔区", "710061"}, {"重庆", "重庆市", "渝北区", "401120"},
}
var streets = []string{"文一西路", "科技园南路", "建国路", "中关村大街", "世纪大道", "中山路", "人民路", "解放路", "天府大道", "珞喻路", "香港中路", "长江路"}
var buildings = []string{"小区", "花园", "公寓", "大厦", "家园", "苑"}
var buildingNames = []string{"阳光", "金色", "翠苑", "紫金", "万科", "绿城", "碧桂园", "华润"}
var buyerMessages = []string{"", "", "", "请开发票，抬头：杭州某某科技有限公司", "指定顺丰，到付也可以", "周末送货，工作日家里没人", "不要放快递柜，打电话", "送人的，不要放价格单", "尽快发货谢谢"}
var sellerMemos = []string{"", "", "", "", "发票已开", "指定顺丰", "赠品：试用装一份", "老客户，优先发货"}
var refundReasons = []string{"七天无理由退换货", "拍错/多拍/不喜欢", "商品与描述不符", "尺码不合适", "质量问题", "未按约定时间发货", "少件/漏发"}

func (s *Sim) pick(xs []string) string { return xs[s.rng.Intn(len(xs))] }

func (s *Sim) genNick() string {
	if s.rng.Intn(2) == 0 {
		return fmt.Sprintf("tb%09d", s.rng.Int63n(1e9))
	}
	return s.pick(surnames) + s.pick(givenNames) + fmt.Sprintf("%04d", s.rng.Intn(10000))
}

func (s *Sim) genPhone() string {
	prefixes := []string{"130", "135", "138", "139", "150", "152", "158", "177", "186", "188", "199"}
	return s.pick(prefixes) + fmt.Sprintf("%08d", s.rng.Intn(1e8))
}

func (s *Sim) genReceiver() Receiver {
	d := districts[s.rng.Intn(len(districts))]
	addr := fmt.Sprintf("%s%d号%s%s%d幢%d单元%d室", s.pick(streets), 1+s.rng.Intn(999), s.pick(buildingNames), s.pick(buildings),
		1+s.rng.Intn(30), 1+s.rng.Intn(4), 101+s.rng.Intn(30)*100+s.rng.Intn(4))
	return Receiver{Name: s.pick(surnames) + s.pick(givenNames), Mobile: s.genPhone(), State: d.province, City: d.city,
		District: d.district, Address: addr, Zip: d.zip}
}

// SeedCatalog puts a small realistic catalogue on sale (clothing with
// colour/size SKUs, items without SKUs) and returns it.
func (s *Sim) SeedCatalog() []Item {
	var out []Item
	out = append(out, s.AddItem(ItemSpec{Title: "纯棉圆领短袖T恤 男女同款", Price: 5900, OuterID: "TS-001", SKUs: []SKUSpec{
		{Properties: "颜色分类:白色;尺码:M", Price: 5900, Quantity: 120, OuterID: "TS-001-WH-M"},
		{Properties: "颜色分类:白色;尺码:L", Price: 5900, Quantity: 80, OuterID: "TS-001-WH-L"},
		{Properties: "颜色分类:黑色;尺码:M", Price: 5900, Quantity: 95, OuterID: "TS-001-BK-M"},
		{Properties: "颜色分类:黑色;尺码:L", Price: 6900, Quantity: 60, OuterID: "TS-001-BK-L"},
	}}))
	out = append(out, s.AddItem(ItemSpec{Title: "保温杯 316不锈钢 500ml", Price: 8900, OuterID: "CUP-500", SKUs: []SKUSpec{
		{Properties: "颜色分类:雾霾蓝", Price: 8900, Quantity: 200, OuterID: "CUP-500-BL"},
		{Properties: "颜色分类:奶油白", Price: 8900, Quantity: 150, OuterID: "CUP-500-WH"},
	}}))
	out = append(out, s.AddItem(ItemSpec{Title: "西湖龙井 明前特级 250g 礼盒装", Price: 29800, Quantity: 40, OuterID: "TEA-LJ-250"}))
	out = append(out, s.AddItem(ItemSpec{Title: "手工香皂 三块装", Price: 3990, Quantity: 300, OuterID: "SOAP-3"}))
	return out
}

// GenerateTrade creates a realistic trade from the items on sale: one to
// three lines, a generated buyer and address and, sometimes, notes. If pay
// is true it is paid at once.
func (s *Sim) GenerateTrade(pay bool) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type cand struct{ numIID, skuID int64 }
	var cands []cand
	for _, id := range s.itemOrder {
		it := s.items[id]
		if !it.OnSale {
			continue
		}
		if len(it.SKUs) == 0 {
			if it.Quantity > 0 {
				cands = append(cands, cand{id, 0})
			}
			continue
		}
		for _, k := range it.SKUs {
			if k.Quantity > 0 {
				cands = append(cands, cand{id, k.SkuID})
			}
		}
	}
	if len(cands) == 0 {
		return 0, fmt.Errorf("%w: nothing on sale", ErrOutOfStock)
	}
	s.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	n := 1 + s.rng.Intn(min(3, len(cands)))
	spec := TradeSpec{BuyerMessage: s.pick(buyerMessages), SellerMemo: s.pick(sellerMemos)}
	if s.rng.Intn(4) == 0 {
		spec.PostFee = 1000
	}
	for _, c := range cands[:n] {
		spec.Lines = append(spec.Lines, LineSpec{NumIID: c.numIID, SkuID: c.skuID, Num: 1})
	}
	if s.rng.Intn(5) == 0 {
		spec.Lines[0].Discount = 500
	}
	tid, err := s.createTradeLocked(spec)
	if err != nil || !pay {
		return tid, err
	}
	t := s.trades[tid]
	s.setTradeStatus(t, "WAIT_SELLER_SEND_GOODS")
	t.PayTime = t.Modified
	s.publishTrade("taobao_trade_TradeBuyerPay", t)
	return tid, nil
}
