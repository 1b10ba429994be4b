package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"omnihub/errs"
)

func runCLI(t *testing.T, dataDir, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd(func(string) string { return "" })
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--data-dir", dataDir, "--log-level", "error"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestUserAndTokenCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, err := runCLI(t, dir, "", "user", "add", "root", "--role", "admin")
	if err != nil || !strings.Contains(out, "password: ") {
		t.Fatalf("user add = %q %v", out, err)
	}
	if _, err := runCLI(t, dir, "a long enough passphrase\n", "user", "add", "wes", "--role", "warehouse", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, dir, "", "user", "add", "eve", "--role", "root"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad role = %v", err)
	}
	tok, err := runCLI(t, dir, "", "token", "create", "--user", "wes", "--scope", "inventory.read", "--expires", "7d")
	if err != nil || !strings.HasPrefix(tok, "omh_") {
		t.Fatalf("token create = %q %v", tok, err)
	}
	if _, err := runCLI(t, dir, "", "token", "create", "--user", "wes", "--scope", "orders.write"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("scope beyond role = %v", err)
	}
	prefix := strings.TrimSpace(tok)[:12]
	if out, err := runCLI(t, dir, "", "token", "revoke", prefix); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke = %q %v", out, err)
	}
	out, err = runCLI(t, dir, "", "token", "list")
	if err != nil || !strings.Contains(out, prefix) || strings.Contains(out, strings.TrimSpace(tok)) {
		t.Fatalf("token list = %q %v", out, err)
	}
}

func TestParseExpiry(t *testing.T) {
	for in, ok := range map[string]bool{"90d": true, "12h": true, "never": true, "0d": false, "-1h": false, "soon": false, "99999d": false} {
		if _, err := parseExpiry(in); (err == nil) != ok {
			t.Errorf("parseExpiry(%q) = %v", in, err)
		}
	}
}
