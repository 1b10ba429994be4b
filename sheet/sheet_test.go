package sheet_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"omnihub/errs"
	"omnihub/sheet"
)

var schema = sheet.Schema{Columns: []sheet.Column{
	{Key: "code", Aliases: []string{"商家编码", "SKU编码"}, Required: true},
	{Key: "name", Aliases: []string{"名称"}, Required: true},
	{Key: "weight_g", Aliases: []string{"重量(g)"}},
}}

func TestReadCSVWithAliasesAndBOM(t *testing.T) {
	in := "\ufeff商家编码, 名称 ,重量（g）\n A1 ,Shirt,100\n\n,,\nB2,\"Cap, blue\",\n"
	rows, err := sheet.Read(strings.NewReader(in), sheet.CSV, schema)
	if err != nil {
		t.Fatal(err)
	}
	want := []sheet.Row{
		{Num: 2, Values: map[string]string{"code": "A1", "name": "Shirt", "weight_g": "100"}},
		{Num: 5, Values: map[string]string{"code": "B2", "name": "Cap, blue", "weight_g": ""}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("got %+v\nwant %+v", rows, want)
	}
	if !rows[1].Has("weight_g") || rows[1].Has("nope") {
		t.Fatal("Has")
	}
}

func TestReadCSVGB18030(t *testing.T) {
	enc, err := simplifiedchinese.GB18030.NewEncoder().String("商家编码,名称\nA1,红色T恤\n")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := sheet.Read(strings.NewReader(enc), sheet.CSV, schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Get("name") != "红色T恤" {
		t.Fatalf("got %+v", rows)
	}
}

func TestHeaderProblemsAreAllReported(t *testing.T) {
	in := "code,colour,code,\nA,red,B\n"
	_, err := sheet.Read(strings.NewReader(in), sheet.CSV, schema)
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("got %v, want invalid", err)
	}
	rep, ok := sheet.ReportOf(err)
	if !ok {
		t.Fatalf("no report in %v", err)
	}
	var cols []string
	for _, e := range rep.Errors {
		if e.Row != 1 {
			t.Errorf("header error on row %d", e.Row)
		}
		cols = append(cols, e.Column)
	}
	// unknown colour, duplicate code, missing name
	if !reflect.DeepEqual(cols, []string{"code", "colour", "name"}) {
		t.Fatalf("columns %v (%+v)", cols, rep.Errors)
	}

	lenient := schema
	lenient.AllowUnknown = true
	rows, err := sheet.Read(strings.NewReader("code,name,colour\nA,B,red\n"), sheet.CSV, lenient)
	if err != nil || len(rows) != 1 || rows[0].Has("colour") {
		t.Fatalf("lenient: %v %+v", err, rows)
	}
}

func TestRowLevelProblems(t *testing.T) {
	long := strings.Repeat("x", sheet.MaxCell+1)
	in := "code,name\nA,ok\nB," + long + "\nC,d,extra\n"
	_, err := sheet.Read(strings.NewReader(in), sheet.CSV, schema)
	rep, ok := sheet.ReportOf(err)
	if !ok || !reflect.DeepEqual(rep.Rows(), []int{3, 4}) {
		t.Fatalf("got %v", err)
	}
	_, err = sheet.Read(strings.NewReader("code,name\n\"A,b\n"), sheet.CSV, schema)
	if rep, ok := sheet.ReportOf(err); !ok || len(rep.Errors) != 1 || rep.Errors[0].Row != 2 {
		t.Fatalf("malformed CSV: %v", err)
	}
	if _, err := sheet.Read(strings.NewReader(""), sheet.CSV, schema); !errs.Is(err, errs.Invalid) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := sheet.Read(strings.NewReader("PK\x03\x04garbage"), sheet.XLSX, schema); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad xlsx: %v", err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	header := []string{"code", "name", "weight_g"}
	data := [][]string{{"00123", "红色 T恤", "180"}, {"6901234567890123", "Cap, \"blue\"", ""}}
	for _, f := range []sheet.Format{sheet.CSV, sheet.XLSX} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := sheet.Write(&buf, f, header, data); err != nil {
				t.Fatal(err)
			}
			rows, err := sheet.Read(&buf, f, schema)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 {
				t.Fatalf("rows %+v", rows)
			}
			for i, r := range rows {
				if r.Num != i+2 {
					t.Errorf("row number %d", r.Num)
				}
				for j, h := range header {
					if r.Get(h) != data[i][j] {
						t.Errorf("row %d %s: %q, want %q", i, h, r.Get(h), data[i][j])
					}
				}
			}
		})
	}
}

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		name, ct string
		want     sheet.Format
	}{
		{"a.XLSX", "", sheet.XLSX},
		{"a.csv", "application/octet-stream", sheet.CSV},
		{"", "text/csv; charset=utf-8", sheet.CSV},
		{"upload", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", sheet.XLSX},
	} {
		if got, err := sheet.FormatOf(tc.name, tc.ct); err != nil || got != tc.want {
			t.Errorf("%q %q: %v %v", tc.name, tc.ct, got, err)
		}
	}
	if _, err := sheet.FormatOf("a.xls", "application/vnd.ms-excel"); !errs.Is(err, errs.Invalid) {
		t.Error("xls accepted")
	}
}
