package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"omnihub/catalog"
	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/sheet"
	"omnihub/store"
	"omnihub/store/storetest"
)

func countSKUs(t *testing.T, db store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM catalog_skus`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportTenThousandRowXLSX(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		c := catalog.New(db, catalog.Options{})
		const n = 10_000
		header := []string{"商家编码", "SKU名称", "条码", "款式编码", "款式名称", "颜色", "尺码", "售价", "成本价", "重量(g)"}
		rows := make([][]string, 0, n)
		for i := range n {
			rows = append(rows, []string{
				fmt.Sprintf("SKU-%05d", i), fmt.Sprintf("商品 %d", i), fmt.Sprintf("69%011d", i),
				fmt.Sprintf("SPU-%04d", i/10), fmt.Sprintf("款 %d", i/10), []string{"红", "蓝"}[i%2], "M",
				fmt.Sprintf("%d.%02d", 10+i%90, i%100), "5.5", "250",
			})
		}
		var buf bytes.Buffer
		if err := sheet.Write(&buf, sheet.XLSX, header, rows); err != nil {
			t.Fatal(err)
		}
		res, err := c.Import(ctx, &buf, sheet.XLSX)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != n || res.Created != n || res.Updated != 0 || res.ProductsCreated != n/10 {
			t.Fatalf("result %+v", res)
		}
		if got := countSKUs(t, db); got != n {
			t.Fatalf("%d SKUs stored, want %d", got, n)
		}
		k, err := c.SKUByCode(ctx, "SKU-01234")
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.GetProduct(ctx, k.ProductID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"colour": "红", "size": "M"}
		if k.Barcode != "6900000001234" || k.PriceFen != 10*100+int64(1234%90)*100+34 || k.CostFen != 550 || k.WeightG != 250 ||
			!reflect.DeepEqual(k.Attributes, want) || p.Code != "SPU-0123" || p.Name != "款 123" {
			t.Fatalf("SKU %+v product %+v", k, p)
		}
	})
}

func TestImportRejectsBadRowsAndWritesNothing(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		c := catalog.New(db, catalog.Options{})
		kit := mustSKU(t, c, catalog.SKUInput{Code: "KIT-OLD", Name: "old kit", Kind: catalog.Bundle,
			Components: []catalog.Component{{SKUID: mustSKU(t, c, catalog.SKUInput{Code: "PART", Name: "part", Barcode: "111"}).ID, Qty: 1}}})
		_ = kit
		csv := strings.Join([]string{
			"code,name,barcode,price,weight_g,kind,components,status",
			"GOOD-1,fine,,12.50,100,,,",             // row 2 ok
			",no code,,1,1,,,",                      // row 3: code required
			"BAD-PRICE,x,,12.345,1,,,",              // row 4: three decimals
			"GOOD-1,dup,,1,1,,,",                    // row 5: duplicate code
			"BAD-W,x,,1,-3,,,",                      // row 6: negative weight
			"KIT-NEW,kit,,1,1,bundle,GHOST*2,",      // row 7: component missing
			"KIT-2,kit,,1,1,bundle,KIT-OLD*1,",      // row 8: bundle in bundle
			"BAR,x,111,1,1,,,",                      // row 9: barcode of PART
			"STAT,x,,1,1,,,gone",                    // row 10: bad status
			"KIT-OLD,kit,,1,1,simple,,",             // row 11: kind change
			"SELF,x,,1,1,bundle,SELF*1,",            // row 12: contains itself
			"GOOD-2,fine too,,9.9,1,bundle,PART*3,", // row 13 ok
		}, "\n") + "\n"
		before := countSKUs(t, db)
		_, err := c.Import(ctx, strings.NewReader(csv), sheet.CSV)
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("got %v, want invalid", err)
		}
		rep, ok := sheet.ReportOf(err)
		if !ok {
			t.Fatalf("no report: %v", err)
		}
		if got, want := rep.Rows(), []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; !reflect.DeepEqual(got, want) {
			t.Fatalf("bad rows %v, want %v; report %+v", got, want, rep.Errors)
		}
		cols := map[int]string{}
		for _, e := range rep.Errors {
			cols[e.Row] = e.Column
			if e.Reason == "" {
				t.Errorf("row %d has no reason", e.Row)
			}
		}
		wantCols := map[int]string{3: "code", 4: "price", 5: "code", 6: "weight_g", 7: "components", 8: "components",
			9: "barcode", 10: "status", 11: "kind", 12: "components"}
		if !reflect.DeepEqual(cols, wantCols) {
			t.Fatalf("columns %v, want %v", cols, wantCols)
		}
		if after := countSKUs(t, db); after != before {
			t.Fatalf("a rejected sheet wrote %d SKUs", after-before)
		}
		if _, err := c.SKUByCode(ctx, "GOOD-1"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("good row of a rejected sheet was written: %v", err)
		}
	})
}

func TestCSVRoundTrip(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		c := catalog.New(db, catalog.Options{})
		in := "商家编码,名称,条码,款式编码,款式名称,分类,品牌,类型,规格,成本价,售价,市场价,重量(g),体积(cm3),图片,状态,组合明细\n" +
			"TS-R-M,红 M,6901,TS,T恤,上衣,Acme,,colour:red;size:M,10,39.9,59,180,900,https://i.example/r.jpg;https://i.example/r2.jpg,启用,\n" +
			"TS-B-M,蓝 M,6902,TS,,,,普通,colour:blue;size:M,10,39.9,59,180,900,,停用,\n" +
			"CAP,帽子,,,,,,,,5,19,,80,,,,\n" +
			"SET,套装,,,,,,组合装,,,49,,,,,,TS-R-M*1;CAP*2\n"
		res, err := c.Import(ctx, strings.NewReader(in), sheet.CSV)
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 4 || res.ProductsCreated != 1 {
			t.Fatalf("result %+v", res)
		}
		var first bytes.Buffer
		if n, err := c.Export(ctx, &first, sheet.CSV, catalog.ExportOptions{}); err != nil || n != 4 {
			t.Fatalf("export: %d %v", n, err)
		}
		want := "code,name,barcode,product_code,product_name,category,brand,kind,attributes,cost,price,list_price,currency,weight_g,volume_cm3,images,status,components\n" +
			"CAP,帽子,,,,,,simple,,5.00,19.00,0.00,CNY,80,0,,active,\n" +
			"SET,套装,,,,,,bundle,,0.00,49.00,0.00,CNY,0,0,,active,CAP*2;TS-R-M*1\n" +
			"TS-B-M,蓝 M,6902,TS,T恤,上衣,Acme,simple,colour:blue;size:M,10.00,39.90,59.00,CNY,180,900,,inactive,\n" +
			"TS-R-M,红 M,6901,TS,T恤,上衣,Acme,simple,colour:red;size:M,10.00,39.90,59.00,CNY,180,900,https://i.example/r.jpg;https://i.example/r2.jpg,active,\n"
		if first.String() != want {
			t.Fatalf("export:\n%s\nwant:\n%s", first.String(), want)
		}
		// Importing the export changes nothing and exports identically.
		res, err = c.Import(ctx, bytes.NewReader(first.Bytes()), sheet.CSV)
		if err != nil || res.Updated != 4 || res.Created != 0 {
			t.Fatalf("re-import: %+v %v", res, err)
		}
		var second bytes.Buffer
		if _, err := c.Export(ctx, &second, sheet.CSV, catalog.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		if second.String() != first.String() {
			t.Fatalf("round trip changed the data:\n%s\nvs\n%s", second.String(), first.String())
		}
		// Chinese headers and xlsx round-trip too.
		var x bytes.Buffer
		if _, err := c.Export(ctx, &x, sheet.XLSX, catalog.ExportOptions{Chinese: true}); err != nil {
			t.Fatal(err)
		}
		if res, err := c.Import(ctx, &x, sheet.XLSX); err != nil || res.Updated != 4 {
			t.Fatalf("xlsx re-import: %+v %v", res, err)
		}
		// A sheet with only some columns leaves the others alone.
		if _, err := c.Import(ctx, strings.NewReader("code,name,price\nTS-R-M,红色 M,45\n"), sheet.CSV); err != nil {
			t.Fatal(err)
		}
		k, _ := c.SKUByCode(ctx, "TS-R-M")
		if k.Name != "红色 M" || k.PriceFen != 4500 || k.WeightG != 180 || k.Barcode != "6901" || len(k.Images) != 2 || k.ProductID == "" {
			t.Fatalf("partial update: %+v", k)
		}
	})
}

func TestParseYuan(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "12": 1200, "12.5": 1250, "12.50": 1250, "¥1,299.00": 129900, ".5": 50,
		"12.499999999999998": 1250, "12.500000000001": 1250, "0.1": 10} {
		if got, err := catalog.ParseYuan(in); err != nil || got != want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "12.345", "abc", "1e5", "12.3.4", "99999999999999"} {
		if _, err := catalog.ParseYuan(in); err == nil {
			t.Errorf("ParseYuan(%q) accepted", in)
		}
	}
	if catalog.FormatYuan(1250) != "12.50" || catalog.FormatYuan(5) != "0.05" {
		t.Error("FormatYuan")
	}
}

// BenchmarkImport measures a 10,000-row CSV import on SQLite (one
// transaction, batched upserts); each iteration imports into a fresh database.
func BenchmarkImport(b *testing.B) {
	const n = 10_000
	var buf bytes.Buffer
	buf.WriteString("code,name,barcode,product_code,price,weight_g,attributes\n")
	for i := range n {
		fmt.Fprintf(&buf, "SKU-%05d,item %d,69%011d,SPU-%04d,%d.50,120,colour:red;size:M\n", i, i, i, i/10, i%500)
	}
	data := buf.Bytes()
	for b.Loop() {
		b.StopTimer()
		c := catalog.New(storetest.OpenSQLite(b, jobs.Config{}), catalog.Options{})
		b.StartTimer()
		if _, err := c.Import(context.Background(), bytes.NewReader(data), sheet.CSV); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
