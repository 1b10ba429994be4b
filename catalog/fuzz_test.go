package catalog_test

import (
	"testing"

	"omnihub/catalog"
)

// ParseYuan reads money typed by people and written by spreadsheets: it must
// never panic, never return a negative amount, and FormatYuan must read back
// to the same fen.
func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{"12.50", "¥1,299", ".5", "12.499999999999998", "1e5", "-1", "99999999999.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := catalog.ParseYuan(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("%q parsed to %d", s, v)
		}
		back, err := catalog.ParseYuan(catalog.FormatYuan(v))
		if err != nil || back != v {
			t.Fatalf("%q → %d → %q → %d, %v", s, v, catalog.FormatYuan(v), back, err)
		}
	})
}
