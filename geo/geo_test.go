package geo

import "testing"

func TestDefaultIsComplete(t *testing.T) {
	p, c, d := Default().Counts()
	if p != 34 {
		t.Errorf("provinces = %d, want 34", p)
	}
	if c < 330 {
		t.Errorf("prefectures = %d, want ≥ 330", c)
	}
	if d < 2800 {
		t.Errorf("counties = %d, want ≥ 2800", d)
	}
}

func TestResolve(t *testing.T) {
	tab := Default()
	cases := []struct {
		p, c, d  string
		reason   string
		district string
	}{
		{"浙江省", "杭州市", "西湖区", "", "330106"},
		{"浙江", "杭州", "西湖区", "", "330106"},
		{" 广东省 ", "深圳市", "南山区", "", "440305"},
		{"北京", "北京市", "朝阳区", "", "110105"},
		{"北京市", "市辖区", "海淀区", "", "110108"},
		{"上海", "上海市", "浦东新区", "", "310115"},
		{"重庆市", "重庆市", "忠县", "", "500233"},
		{"广东省", "东莞市", "长安镇", "", "441900"},
		{"河南省", "济源市", "济源市", "", "419001"},
		{"新疆维吾尔自治区", "石河子市", "", "", "659001"},
		{"内蒙古", "兴安盟", "乌兰浩特市", "", "152201"},
		{"吉林省", "延边朝鲜族自治州", "延吉市", "", "222401"},
		{"香港特别行政区", "九龙", "油尖旺区", "", ""},
		{"火星省", "杭州市", "西湖区", UnknownProvince, ""},
		{"浙江省", "深圳市", "南山区", UnknownCity, ""},
		{"浙江省", "杭州市", "南山区", UnknownDistrict, ""},
		{"浙江省", "杭州市", "", UnknownDistrict, ""},
		{"浙江省", "", "西湖区", UnknownCity, ""},
		{"", "", "", UnknownProvince, ""},
		{"北京", "天津市", "和平区", UnknownCity, ""},
	}
	for _, tc := range cases {
		r := tab.Resolve(tc.p, tc.c, tc.d)
		if r.Reason != tc.reason {
			t.Errorf("Resolve(%q,%q,%q).Reason = %q, want %q (%+v)", tc.p, tc.c, tc.d, r.Reason, tc.reason, r)
			continue
		}
		if r.District.Code != tc.district {
			t.Errorf("Resolve(%q,%q,%q).District = %+v, want %s", tc.p, tc.c, tc.d, r.District, tc.district)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	tab := Default()
	for b.Loop() {
		tab.Resolve("浙江省", "杭州市", "西湖区")
	}
}
