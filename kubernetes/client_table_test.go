package kubernetes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

// Table tests of reading a kubeconfig and of mapping the API server's
// answers to Warder's errors: files only, nothing is dialled.

// testCert is a self-signed certificate and its key, PEM-encoded.
func testCert(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestNewClientKubeconfig reads kubeconfigs with a token, a token file,
// client certificates inline and in files (relative to the kubeconfig),
// several contexts, and broken ones, each broken one a clear error.
func TestNewClientKubeconfig(t *testing.T) {
	ca, _ := testCert(t, "cluster-ca")
	cert, key := testCert(t, "warder")
	_, otherKey := testCert(t, "other")
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	// kc is a kubeconfig of one context "c" on cluster "k" as user "u",
	// with the cluster's and the user's fields given as YAML lines.
	kc := func(cluster, user string) string {
		return "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n" +
			"clusters:\n- name: k\n  cluster:\n" + cluster + "users:\n- name: u\n  user:\n" + user
	}
	files := map[string][]byte{
		"token":          []byte("  file-token\n"),
		"ca.crt":         ca,
		"not-a-ca.crt":   []byte("not a certificate"),
		"pki/warder.crt": cert,
		"pki/warder.key": key,
	}
	tests := []struct {
		name    string
		config  string
		base    string
		token   string
		certs   int  // client certificates
		rootCAs bool // a CA pool of its own
		skip    bool // InsecureSkipVerify
		wantErr string
	}{
		{"token and inline CA", kc("    server: https://10.0.0.1:6443/\n    certificate-authority-data: "+b64(ca)+"\n", "    token: abc.def\n"),
			"https://10.0.0.1:6443", "abc.def", 0, true, false, ""},
		{"token file, relative, trimmed, over the token", kc("    server: https://k.example:443\n    certificate-authority: ca.crt\n", "    token: ignored\n    tokenFile: token\n"),
			"https://k.example:443", "file-token", 0, true, false, ""},
		{"client certificate inline", kc("    server: https://[fd00::1]:6443\n    certificate-authority-data: "+b64(ca)+"\n",
			"    client-certificate-data: "+b64(cert)+"\n    client-key-data: "+b64(key)+"\n"),
			"https://[fd00::1]:6443", "", 1, true, false, ""},
		{"client certificate in files", kc("    server: https://127.0.0.1:41234\n", "    client-certificate: pki/warder.crt\n    client-key: pki/warder.key\n"),
			"https://127.0.0.1:41234", "", 1, false, false, ""},
		{"skip TLS verification, no user entry", kc("    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true\n", "    {}\n"),
			"https://127.0.0.1:6443", "", 0, false, true, ""},
		{"the current context among several", "current-context: second\n" +
			"contexts:\n- name: first\n  context: {cluster: one, user: alice}\n- name: second\n  context: {cluster: two, user: bob}\n" +
			"clusters:\n- name: one\n  cluster: {server: 'https://one:6443'}\n- name: two\n  cluster: {server: 'https://two:6443'}\n" +
			"users:\n- name: alice\n  user: {token: alice-token}\n- name: bob\n  user: {token: bob-token}\n",
			"https://two:6443", "bob-token", 0, false, false, ""},

		{"not YAML", "clusters: [unclosed\n", "", "", 0, false, false, "kubeconfig "},
		{"no current context", strings.Replace(kc("    server: https://x\n", "    token: t\n"), "current-context: c", "current-context: gone", 1),
			"", "", 0, false, false, `current-context "gone" names no context`},
		{"empty file", "", "", "", 0, false, false, `current-context "" names no context`},
		{"no server", kc("    certificate-authority-data: "+b64(ca)+"\n", "    token: t\n"), "", "", 0, false, false, `no server for cluster "k"`},
		{"the context's cluster is missing", strings.Replace(kc("    server: https://x\n", "    token: t\n"), "cluster: k, user", "cluster: nope, user", 1),
			"", "", 0, false, false, `no server for cluster "nope"`},
		{"CA data not base64", kc("    server: https://x\n    certificate-authority-data: '%%%'\n", "    token: t\n"), "", "", 0, false, false, "certificate authority"},
		{"CA not PEM", kc("    server: https://x\n    certificate-authority: not-a-ca.crt\n", "    token: t\n"), "", "", 0, false, false, "holds no PEM certificate"},
		{"CA file missing", kc("    server: https://x\n    certificate-authority: /nonexistent/ca.crt\n", "    token: t\n"), "", "", 0, false, false, "certificate authority"},
		{"token file missing", kc("    server: https://x\n", "    tokenFile: missing-token\n"), "", "", 0, false, false, "token file"},
		{"client certificate without its key", kc("    server: https://x\n", "    client-certificate-data: "+b64(cert)+"\n"), "", "", 0, false, false, "client certificate"},
		{"client key of another certificate", kc("    server: https://x\n", "    client-certificate-data: "+b64(cert)+"\n    client-key-data: "+b64(otherKey)+"\n"),
			"", "", 0, false, false, "client certificate"},
		{"client key file missing", kc("    server: https://x\n", "    client-certificate: pki/warder.crt\n    client-key: pki/gone.key\n"), "", "", 0, false, false, "client key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "config")
			if err := os.WriteFile(path, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := newClient(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and saying %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.base != tt.base || c.token != tt.token {
				t.Errorf("base %q, token %q; want %q, %q", c.base, c.token, tt.base, tt.token)
			}
			tr, ok := c.http.Transport.(*http.Transport)
			if !ok || c.stream.Transport != c.http.Transport || c.stream.Timeout != 0 || c.http.Timeout == 0 {
				t.Fatalf("transports: %T %v, stream timeout %s, timeout %s", c.http.Transport, c.stream.Transport == c.http.Transport, c.stream.Timeout, c.http.Timeout)
			}
			tc := tr.TLSClientConfig
			if tc.MinVersion != tls.VersionTLS12 || len(tc.Certificates) != tt.certs || (tc.RootCAs != nil) != tt.rootCAs || tc.InsecureSkipVerify != tt.skip {
				t.Errorf("TLS: min %x, %d certificates, own CAs %v, skip verify %v", tc.MinVersion, len(tc.Certificates), tc.RootCAs != nil, tc.InsecureSkipVerify)
			}
		})
	}
	if _, err := newClient(filepath.Join(t.TempDir(), "absent")); err == nil || !strings.Contains(err.Error(), "read kubeconfig") {
		t.Errorf("a missing kubeconfig: %v", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := newClient(""); err == nil || !strings.Contains(err.Error(), "KUBECONFIG") {
		t.Errorf("no kubeconfig outside a pod: %v, want an error naming KUBECONFIG", err)
	}
}

// TestAPIErrorTable maps the API server's answers to Warder's error
// kinds, keeping its message and reason.
func TestAPIErrorTable(t *testing.T) {
	status := func(reason, msg string) string {
		return `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"` + reason + `","message":"` + msg + `"}`
	}
	tests := []struct {
		code    int
		body    string
		kind    error // nil: none of warder's kinds
		message string
	}{
		{404, status("NotFound", `pods \"w\" not found`), warder.ErrNotFound, `pods "w" not found`},
		{409, status("AlreadyExists", "secrets already exists"), warder.ErrConflict, "secrets already exists"},
		{409, status("Conflict", "the object has been modified"), warder.ErrConflict, "the object has been modified"},
		{422, status("Invalid", "spec.containers[0].image: Required value"), warder.ErrInvalid, "Required value"},
		{400, status("BadRequest", "bad"), warder.ErrInvalid, "bad"},
		{401, status("Unauthorized", "Unauthorized"), warder.ErrUnavailable, "Unauthorized"},
		{403, status("Forbidden", `pods is forbidden: User \"x\" cannot list`), warder.ErrUnavailable, "forbidden"},
		{429, status("TooManyRequests", "slow down"), warder.ErrUnavailable, "slow down"},
		{500, "", warder.ErrUnavailable, "GET /api/v1/namespaces/ns/pods/w: Internal Server Error"},
		{503, "<html>proxy</html>", warder.ErrUnavailable, "Service Unavailable"},
		{410, status("Expired", "too old resource version"), nil, "too old resource version"},
		{405, "", nil, "Method Not Allowed"},
	}
	for _, tt := range tests {
		resp := &http.Response{StatusCode: tt.code, Body: io.NopCloser(strings.NewReader(tt.body))}
		err := apiError(http.MethodGet, "/api/v1/namespaces/ns/pods/w", resp)
		for _, kind := range []error{warder.ErrNotFound, warder.ErrConflict, warder.ErrInvalid, warder.ErrUnavailable} {
			if errors.Is(err, kind) != (kind == tt.kind) {
				t.Errorf("%d: %v; is %v: %v", tt.code, err, kind, errors.Is(err, kind))
			}
		}
		var se *statusError
		if !errors.As(err, &se) || se.Code != tt.code || !strings.Contains(se.Message, tt.message) {
			t.Errorf("%d: %v, want a status error saying %q", tt.code, err, tt.message)
		}
	}
}

// TestQueryTable: pairs become one encoded query; empty values are left
// out, and no pairs is no query.
func TestQueryTable(t *testing.T) {
	tests := []struct {
		kv   []string
		want string
	}{
		{nil, ""},
		{[]string{"labelSelector", ""}, ""},
		{[]string{"labelSelector", "warder.managed=warder_network"}, "?labelSelector=warder.managed%3Dwarder_network"},
		{[]string{"watch", "true", "resourceVersion", "", "timeoutSeconds", "600"}, "?timeoutSeconds=600&watch=true"},
		{[]string{"container", "agent", "dangling"}, "?container=agent"},
		{[]string{"command", "a b&c"}, "?command=a+b%26c"},
	}
	for _, tt := range tests {
		if got := query(tt.kv...); got != tt.want {
			t.Errorf("query(%q) = %q, want %q", tt.kv, got, tt.want)
		}
	}
}
