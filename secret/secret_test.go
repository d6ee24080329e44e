package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpen(t *testing.T) {
	box, err := NewBox(key(1))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"API_KEY": "sk-very-secret"}
	sealed, err := box.Seal(env)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "sk-very-secret") || strings.Contains(sealed, "API_KEY") {
		t.Fatalf("sealed value leaks: %s", sealed)
	}
	again, _ := box.Seal(env)
	if again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	got, err := box.Open(sealed)
	if err != nil || got["API_KEY"] != "sk-very-secret" {
		t.Fatalf("Open = %v, %v", got, err)
	}
	tampered := sealed[:len(sealed)-4] + "AAA="
	if _, err := box.Open(tampered); err == nil {
		t.Fatal("a tampered value opened")
	}
	if s, _ := box.Seal(nil); s != "" {
		t.Fatalf("empty env sealed to %q", s)
	}
}

func TestRotation(t *testing.T) {
	old, _ := NewBox(key(1))
	sealed, _ := old.Seal(map[string]string{"K": "v"})
	other, _ := NewBox(key(2))
	if _, err := other.Open(sealed); err != ErrUnknownKey {
		t.Fatalf("a box without the key: %v", err)
	}
	rotating, _ := NewBox(key(2), key(1))
	if rotating.Current(sealed) {
		t.Fatal("an old seal counts as current")
	}
	env, err := rotating.Open(sealed)
	if err != nil || env["K"] != "v" {
		t.Fatalf("opening with the previous key: %v %v", env, err)
	}
	resealed, _ := rotating.Seal(env)
	if !rotating.Current(resealed) {
		t.Fatal("a fresh seal is not current")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", info.Mode(), err)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("the key file changed on reload")
	}
	if _, err := ParseKey("short"); err == nil {
		t.Fatal("a short key parsed")
	}
}
