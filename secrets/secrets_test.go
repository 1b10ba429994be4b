package secrets

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"omnihub/errs"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Seal([]byte("top-secret"), []byte("shop-1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "top-secret") {
		t.Fatal("plaintext visible in ciphertext")
	}
	got, err := b.Open(s, []byte("shop-1"))
	if err != nil || string(got) != "top-secret" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := b.Open(s, []byte("shop-2")); !errs.Is(err, errs.Unauthorized) {
		t.Fatalf("moved to another record: err = %v, want unauthorized", err)
	}
	tampered := s[:len(s)-2] + "AA"
	if _, err := b.Open(tampered, []byte("shop-1")); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(s, []byte("shop-1")); !errs.Is(err, errs.Unauthorized) || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := b.Open("garbage", nil); !errs.Is(err, errs.Invalid) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "secret.key")
	k1, err := LoadKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st, err)
	}
	k2, err := LoadKey("", path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("second load gave another key")
	}
	env := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, KeySize))
	k3, err := LoadKey(env, path)
	if err != nil || k3[0] != 1 {
		t.Fatalf("env key not preferred: %v", err)
	}
	if _, err := LoadKey("c2hvcnQ=", path); !errs.Is(err, errs.Invalid) {
		t.Fatalf("short env key: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	b, _ := New(bytes.Repeat([]byte{7}, KeySize))
	s, _ := b.Seal([]byte("x"), nil)
	f.Add(s)
	f.Add("v1:deadbeef:AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = b.Open(in, nil) // must never panic
	})
}
