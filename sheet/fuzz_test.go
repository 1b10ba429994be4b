package sheet_test

import (
	"bytes"
	"testing"

	"omnihub/errs"
	"omnihub/sheet"
)

// The readers take files from outside (uploads, the CLI): whatever the bytes,
// they must return rows or a typed Invalid error, never panic, and every row
// they return must be numbered after the header and carry only known keys.
func checkRead(t *testing.T, f sheet.Format, data []byte) {
	rows, err := sheet.Read(bytes.NewReader(data), f, schema)
	if err != nil {
		if c := errs.CodeOf(err); c != errs.Invalid {
			t.Fatalf("error code %s: %v", c, err)
		}
		return
	}
	prev := 1
	for _, r := range rows {
		if r.Num <= prev {
			t.Fatalf("row numbers not increasing: %d after %d", r.Num, prev)
		}
		prev = r.Num
		for k := range r.Values {
			if k != "code" && k != "name" && k != "weight_g" {
				t.Fatalf("unknown key %q", k)
			}
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("code,name\nA,B\n"))
	f.Add([]byte("\ufeff商家编码,名称,重量(g)\nA,\"x\"\"y\",1\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkRead(t, sheet.CSV, data) })
}

func FuzzReadXLSX(f *testing.F) {
	var buf bytes.Buffer
	if err := sheet.Write(&buf, sheet.XLSX, []string{"code", "name"}, [][]string{{"A", "B"}}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) { checkRead(t, sheet.XLSX, data) })
}
