// Package secrets encrypts small secrets at rest (shop credentials, platform
// tokens) with AES-256-GCM under one process key.
//
// The key comes from OMNIHUB_SECRET_KEY (base64, 32 bytes) or from a key file;
// when neither exists the key file is generated on first start with mode 0600,
// so that a fresh machine works with no configuration while a production
// deployment can inject the key from its secret manager. Ciphertexts carry a
// version prefix and the key's short fingerprint so that a wrong key is a
// clear error rather than garbage, and a future key rotation can tell old
// ciphertexts from new.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"omnihub/errs"
)

// KeySize is the AES-256 key length.
const KeySize = 32

const prefix = "v1"

// Box seals and opens secrets. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
	fp   string // key fingerprint, first 8 hex chars of SHA-256(key)
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, errs.E(errs.Invalid, "secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "aes cipher")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "gcm")
	}
	sum := sha256.Sum256(key)
	return &Box{aead: aead, fp: hex.EncodeToString(sum[:4])}, nil
}

// Fingerprint identifies the key without revealing it.
func (b *Box) Fingerprint() string { return b.fp }

// Seal encrypts plaintext; aad binds the ciphertext to its context (for
// example the shop id) so it cannot be moved to another row.
func (b *Box) Seal(plaintext, aad []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", errs.Wrap(err, errs.Internal, "read nonce")
	}
	ct := b.aead.Seal(nonce, nonce, plaintext, aad)
	return prefix + ":" + b.fp + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts what Seal produced with the same aad.
func (b *Box) Open(sealed string, aad []byte) ([]byte, error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != prefix {
		return nil, errs.E(errs.Invalid, "not a sealed secret")
	}
	if parts[1] != b.fp {
		return nil, errs.E(errs.Unauthorized, "secret was sealed with another key (fingerprint %s, current key %s)", parts[1], b.fp)
	}
	raw, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "decode sealed secret")
	}
	ns := b.aead.NonceSize()
	if len(raw) < ns+b.aead.Overhead() {
		return nil, errs.E(errs.Invalid, "sealed secret too short")
	}
	pt, err := b.aead.Open(nil, raw[:ns], raw[ns:], aad)
	if err != nil {
		return nil, errs.E(errs.Unauthorized, "secret failed authentication (tampered, or bound to another record)")
	}
	return pt, nil
}

// LoadKey returns the key from envValue (base64) when set, else from path,
// creating path with a new random key when it does not exist.
func LoadKey(envValue, path string) ([]byte, error) {
	if envValue != "" {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(envValue))
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "OMNIHUB_SECRET_KEY is not base64")
		}
		if len(k) != KeySize {
			return nil, errs.E(errs.Invalid, "OMNIHUB_SECRET_KEY must decode to %d bytes, got %d", KeySize, len(k))
		}
		return k, nil
	}
	if path == "" {
		return nil, errs.E(errs.Invalid, "no secret key: set OMNIHUB_SECRET_KEY or secret_key_file")
	}
	data, err := os.ReadFile(path)
	if err == nil {
		k, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if derr != nil || len(k) != KeySize {
			return nil, errs.E(errs.Invalid, "secret key file %s does not hold a base64 %d-byte key", path, KeySize)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, errs.Wrap(err, errs.Unavailable, "read secret key file")
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "generate secret key")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "create key directory")
	}
	// O_EXCL: two processes starting at once must not write two different keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadKey("", path)
	}
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "create secret key file")
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "write secret key file")
	}
	return k, f.Sync()
}
