package douyinsim

import (
	"fmt"
	"math/rand/v2"
)

// Realistic buyer data. Names and places are common ones; phone numbers are
// random 11-digit mobile numbers.
var (
	surnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"}
	given    = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "婷婷", "子涵", "浩然", "欣怡", "梓轩"}
	places   = []struct {
		province, city string
		districts      []string
	}{
		{"浙江省", "杭州市", []string{"西湖区", "余杭区", "滨江区", "拱墅区"}},
		{"广东省", "深圳市", []string{"南山区", "福田区", "宝安区", "龙岗区"}},
		{"广东省", "广州市", []string{"天河区", "海珠区", "越秀区", "番禺区"}},
		{"北京市", "北京市", []string{"朝阳区", "海淀区", "东城区", "丰台区"}},
		{"上海市", "上海市", []string{"浦东新区", "徐汇区", "静安区", "闵行区"}},
		{"江苏省", "南京市", []string{"鼓楼区", "玄武区", "江宁区", "建邺区"}},
		{"四川省", "成都市", []string{"武侯区", "锦江区", "高新区", "成华区"}},
		{"湖北省", "武汉市", []string{"洪山区", "江汉区", "武昌区", "汉阳区"}},
		{"山东省", "青岛市", []string{"市南区", "崂山区", "黄岛区", "李沧区"}},
		{"河南省", "郑州市", []string{"金水区", "二七区", "中原区", "管城区"}},
	}
	streets = []string{"文一西路", "人民路", "解放大道", "中山路", "建设路", "长江路", "科技园南路", "学院路", "新华街", "和平里"}
	notes   = []string{"", "", "", "", "请尽快发货，谢谢", "不要放快递柜", "送人的，不要放发票", "周末不在家，请工作日送达", "主播说送赠品，别忘了", "颜色发错包退吗"}
)

type receiver struct {
	Name, Phone, Province, City, District, Street, Detail string
}

func randomReceiver(r *rand.Rand) receiver {
	p := places[r.IntN(len(places))]
	return receiver{
		Name:     surnames[r.IntN(len(surnames))] + given[r.IntN(len(given))],
		Phone:    fmt.Sprintf("1%d%09d", 3+r.IntN(7), r.IntN(1_000_000_000)),
		Province: p.province, City: p.city,
		District: p.districts[r.IntN(len(p.districts))],
		Street:   "",
		Detail:   fmt.Sprintf("%s%d号%d栋%d室", streets[r.IntN(len(streets))], 1+r.IntN(999), 1+r.IntN(30), 101+r.IntN(2800)),
	}
}

func randomNote(r *rand.Rand) string { return notes[r.IntN(len(notes))] }
