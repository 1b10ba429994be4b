package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"omnihub/errs"
)

func TestCatalogCommands(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	if _, err := runCLI(t, dir, "", "catalog", "sku", "add", "--code", "A1", "--name", "Shampoo", "--price", "19.90", "--attr", "colour=red"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, dir, "", "catalog", "sku", "add", "--code", "KIT", "--name", "Kit", "--bundle", "A1*2"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, dir, "", "catalog", "sku", "add", "--code", "X", "--name", "x", "--price", "1.234"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad price = %v", err)
	}
	bad := filepath.Join(tmp, "bad.csv")
	_ = os.WriteFile(bad, []byte("code,name,price\nB1,b,1\n,no code,abc\n"), 0o644)
	if _, err := runCLI(t, dir, "", "catalog", "import", bad); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad sheet = %v", err)
	}
	good := filepath.Join(tmp, "good.csv")
	_ = os.WriteFile(good, []byte("商家编码,名称,售价\nB1,b,1\n"), 0o644)
	if out, err := runCLI(t, dir, "", "catalog", "import", good); err != nil || !strings.Contains(out, "1 SKUs created") {
		t.Fatalf("import = %q %v", out, err)
	}
	out, err := runCLI(t, dir, "", "catalog", "export", "-")
	if err != nil || !strings.Contains(out, "KIT,Kit,,,,,,bundle,,0.00,0.00,0.00,CNY,0,0,,active,A1*2") || strings.Count(out, "\n") != 4 {
		t.Fatalf("export = %q %v", out, err)
	}
	if _, err := runCLI(t, dir, "", "catalog", "bind", "--shop", "s1", "--item", "i1", "--sku", "A1"); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, dir, "", "catalog", "bindings", "--sku", "A1"); err != nil || !strings.Contains(out, "s1") {
		t.Fatalf("bindings = %q %v", out, err)
	}
	if _, err := runCLI(t, dir, "", "catalog", "sku", "show", "NOPE"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("show missing = %v", err)
	}
}
