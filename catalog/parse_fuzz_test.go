package catalog

import (
	"strings"
	"testing"

	"omnihub/sheet"
)

// FuzzProductSheetRows feeds arbitrary CSV through the product sheet schema
// and the row checks that run before the database is consulted: no panic,
// every problem names a real row and a known column, and every accepted row
// is a valid SKU.
func FuzzProductSheetRows(f *testing.F) {
	f.Add("code,name,price,attributes,components,kind\nA,a,1.5,colour:red,,\nK,k,,,A*2;B,bundle\n")
	f.Add("商家编码,名称,售价,规格,组合明细,类型\nA,红,¥1,299.00,颜色：红；尺码：M,,组合装\n")
	f.Add("code,name,product_code,product_name\nA,a,P,x\nB,b,P,y\n")
	keys := map[string]bool{"": true}
	for _, c := range SheetSchema.Columns {
		keys[c.Key] = true
	}
	f.Fuzz(func(t *testing.T, csv string) {
		rows, err := sheet.Read(strings.NewReader(csv), sheet.CSV, SheetSchema)
		if err != nil {
			return
		}
		var rep sheet.Report
		parsed, _ := parseRows(rows, &rep)
		for _, e := range rep.Errors {
			if e.Row < 1 || !keys[e.Column] || e.Reason == "" {
				t.Fatalf("bad report entry %+v", e)
			}
		}
		for _, r := range parsed {
			in := r.in
			if _, err := normalizeSKU(in); err != nil {
				t.Fatalf("accepted row %d is invalid: %v", r.num, err)
			}
		}
	})
}
