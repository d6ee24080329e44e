// Package secret seals agents' secret env vars with AES-256-GCM, so the
// database never holds them in clear text.
//
// A sealed value is "v1:<key id>:<base64 of nonce and ciphertext>"; the key
// id (the first bytes of the key's SHA-256) says which key sealed it, so a
// Box holding the current and the previous key can open both during a key
// rotation.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// Box seals with its current key and opens with any key it holds.
type Box struct {
	current string // key id
	aeads   map[string]cipher.AEAD
}

// NewBox returns a Box sealing with current and also opening what previous
// keys sealed.
func NewBox(current []byte, previous ...[]byte) (*Box, error) {
	b := &Box{aeads: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, previous...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("secret key must be %d bytes, not %d", KeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := keyID(key)
		b.aeads[id] = aead
		if i == 0 {
			b.current = id
		}
	}
	return b, nil
}

func keyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// Seal encrypts the env map; an empty map seals to "".
func (b *Box) Seal(env map[string]string) (string, error) {
	if len(env) == 0 {
		return "", nil
	}
	plain, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	aead := b.aeads[b.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(b.current))
	return "v1:" + b.current + ":" + base64.StdEncoding.EncodeToString(sealed), nil
}

// ErrUnknownKey means the value was sealed with a key this Box lacks.
var ErrUnknownKey = errors.New("sealed with a key Warder does not hold (was WARDER_SECRET_KEY changed without WARDER_SECRET_KEY_PREVIOUS?)")

// Open decrypts what Seal made; "" opens to an empty map.
func (b *Box) Open(sealed string) (map[string]string, error) {
	env := map[string]string{}
	if sealed == "" {
		return env, nil
	}
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, errors.New("sealed secret has an unknown format")
	}
	aead, ok := b.aeads[parts[1]]
	if !ok {
		return nil, ErrUnknownKey
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, errors.New("sealed secret is corrupt")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(parts[1]))
	if err != nil {
		return nil, errors.New("sealed secret failed authentication")
	}
	return env, json.Unmarshal(plain, &env)
}

// Current reports whether sealed was made with the Box's current key (so a
// rotation can skip it).
func (b *Box) Current(sealed string) bool {
	return sealed == "" || strings.HasPrefix(sealed, "v1:"+b.current+":")
}

// ParseKey reads a key written as 64 hex digits or as base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	return nil, fmt.Errorf("a secret key must be %d bytes written as 64 hex digits or base64", KeySize)
}

// LoadOrCreateKeyFile returns the key in path, creating the file with a
// new random key, readable by its owner only (0600), when it is missing.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return ParseKey(string(data))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKeyFile(path) // another process made it first
	} else if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}
