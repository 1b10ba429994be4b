package main

import (
	"path/filepath"
	"strings"
	"testing"

	"omnihub/errs"
)

// stock warehouse add|set|list carry a warehouse's routing priority,
// provinces and active flag; bad values are refused as invalid input.
func TestWarehouseRoutingCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, err := runCLI(t, dir, "", "stock", "warehouse", "add", "HZ", "杭州仓", "--priority", "20", "--provinces", "浙江，上海、32")
	if err != nil || !strings.Contains(out, "priority 20") || !strings.Contains(out, "31 上海市, 32 江苏省, 33 浙江省") {
		t.Fatalf("add HZ = %q %v", out, err)
	}
	if out, err := runCLI(t, dir, "", "stock", "warehouse", "add", "NAT"); err != nil || !strings.Contains(out, "priority 100 provinces -") {
		t.Fatalf("add NAT = %q %v", out, err)
	}
	for _, args := range [][]string{
		{"stock", "warehouse", "add", "X", "--provinces", "浙江,Gotham"},
		{"stock", "warehouse", "add", "Y", "--priority", "-3"},
		{"stock", "warehouse", "set", "HZ", "--priority", "-1"},
		{"stock", "warehouse", "set", "HZ", "--provinces", "杭州"},
		{"stock", "warehouse", "set", "HZ"},
	} {
		if _, err := runCLI(t, dir, "", args...); !errs.Is(err, errs.Invalid) || errs.ExitCode(errs.CodeOf(err)) == 0 {
			t.Fatalf("%v = %v, want invalid", args, err)
		}
	}
	if _, err := runCLI(t, dir, "", "stock", "warehouse", "set", "NOPE", "--priority", "1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("set unknown = %v", err)
	}
	out, err = runCLI(t, dir, "", "stock", "warehouse", "set", "HZ", "--active=false", "--priority", "5", "--provinces", "")
	if err != nil || !strings.Contains(out, "active false priority 5 provinces -") {
		t.Fatalf("set HZ = %q %v", out, err)
	}
	out, err = runCLI(t, dir, "", "stock", "warehouse", "list")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	// CODE NAME ACTIVE PRIORITY PROVINCES ID
	if hz := rows["HZ"]; len(hz) != 6 || hz[2] != "false" || hz[3] != "5" || hz[4] != "-" {
		t.Fatalf("list HZ row %v in %q", hz, out)
	}
	if nat := rows["NAT"]; len(nat) != 6 || nat[2] != "true" || nat[3] != "100" {
		t.Fatalf("list NAT row %v in %q", nat, out)
	}
	if _, ok := rows["X"]; ok {
		t.Fatalf("refused warehouse X was stored: %q", out)
	}
}
