package kubernetes

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/warder/warder"
)

// apiClient speaks to one API server: the few REST calls this runtime
// makes, with the credentials of a kubeconfig or of the pod Warder runs in.
// It is small on purpose: Warder uses five kinds of object and two
// streams, and a hand-written client keeps client-go's dependency tree
// and compile time out of every build.
type apiClient struct {
	base  string // https://host:port, no trailing slash
	token string // bearer token, or "" for client certificates
	http  *http.Client
	// stream is http without its overall timeout, for watches and
	// followed logs that last as long as their context.
	stream *http.Client
}

// kubeconfig is the part of a kubeconfig file this client reads.
type kubeconfig struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthority     string `json:"certificate-authority"`
			CertificateAuthorityData string `json:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			ClientCertificate     string `json:"client-certificate"`
			ClientCertificateData string `json:"client-certificate-data"`
			ClientKey             string `json:"client-key"`
			ClientKeyData         string `json:"client-key-data"`
			Token                 string `json:"token"`
			TokenFile             string `json:"tokenFile"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
}

// Where a pod finds its service account's credentials.
const (
	inClusterDir = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// newClient reads the kubeconfig at path, or, for "", the credentials of
// the pod Warder runs in.
func newClient(path string) (*apiClient, error) {
	if path == "" {
		return inClusterClient()
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			return filepath.Join(dir, p)
		}
		return p
	}
	var clusterName, userName string
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName = c.Context.Cluster, c.Context.User
		}
	}
	if clusterName == "" {
		return nil, fmt.Errorf("kubeconfig %s: current-context %q names no context", path, kc.CurrentContext)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	c := &apiClient{}
	found := false
	for _, cl := range kc.Clusters {
		if cl.Name != clusterName {
			continue
		}
		found = true
		c.base = strings.TrimRight(cl.Cluster.Server, "/")
		tlsConf.InsecureSkipVerify = cl.Cluster.InsecureSkipTLSVerify
		ca, err := fileOrData(rel(cl.Cluster.CertificateAuthority), cl.Cluster.CertificateAuthorityData)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: certificate authority: %w", path, err)
		}
		if ca != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return nil, fmt.Errorf("kubeconfig %s: the certificate authority holds no PEM certificate", path)
			}
			tlsConf.RootCAs = pool
		}
	}
	if !found || c.base == "" {
		return nil, fmt.Errorf("kubeconfig %s: no server for cluster %q", path, clusterName)
	}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		c.token = u.User.Token
		if u.User.TokenFile != "" {
			t, err := os.ReadFile(rel(u.User.TokenFile))
			if err != nil {
				return nil, fmt.Errorf("kubeconfig %s: token file: %w", path, err)
			}
			c.token = strings.TrimSpace(string(t))
		}
		cert, err := fileOrData(rel(u.User.ClientCertificate), u.User.ClientCertificateData)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: client certificate: %w", path, err)
		}
		key, err := fileOrData(rel(u.User.ClientKey), u.User.ClientKeyData)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: client key: %w", path, err)
		}
		if cert != nil {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("kubeconfig %s: client certificate: %w", path, err)
			}
			tlsConf.Certificates = []tls.Certificate{pair}
		}
	}
	c.setTransport(tlsConf)
	return c, nil
}

// inClusterClient uses the service account of the pod Warder runs in.
func inClusterClient() (*apiClient, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("no kubeconfig: set KUBECONFIG, or run Warder in a pod of the cluster")
	}
	token, err := os.ReadFile(filepath.Join(inClusterDir, "token"))
	if err != nil {
		return nil, fmt.Errorf("in-cluster credentials: %w", err)
	}
	ca, err := os.ReadFile(filepath.Join(inClusterDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("in-cluster credentials: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c := &apiClient{base: "https://" + net.JoinHostPort(host, port), token: strings.TrimSpace(string(token))}
	c.setTransport(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool})
	return c, nil
}

func fileOrData(file, data string) ([]byte, error) {
	switch {
	case data != "":
		return base64.StdEncoding.DecodeString(data)
	case file != "":
		return os.ReadFile(file)
	}
	return nil, nil
}

func (c *apiClient) setTransport(tlsConf *tls.Config) {
	tr := &http.Transport{
		TLSClientConfig:       tlsConf,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
	}
	c.http = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	c.stream = &http.Client{Transport: tr}
}

// maxObjectBytes bounds one object or list the API server answers,
// decoded whole; a list of this deployment's pods stays well under it
// (a pod is a few KiB: 64 MiB is some 10,000 of them).
const maxObjectBytes = 64 << 20

// statusError is the API server's answer to a failed call.
type statusError struct {
	Code    int
	Reason  string
	Message string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("kubernetes: %s (%d %s)", e.Message, e.Code, e.Reason)
}

// do sends one request and decodes the answer into out (when not nil).
// Errors wrap warder's kinds: ErrNotFound for 404, ErrConflict for 409,
// ErrUnavailable when the API server cannot be reached or is failing.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, c.http, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxObjectBytes))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxObjectBytes)).Decode(out); err != nil {
		return warder.Errorf(warder.ErrUnavailable, "kubernetes: decode %s %s: %v", method, path, err)
	}
	return nil
}

// send makes a request and returns a successful answer, whose body the
// caller closes; any other answer becomes an error.
func (c *apiClient) send(ctx context.Context, hc *http.Client, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, warder.Errorf(warder.ErrUnavailable, "kubernetes API server %s: %v", c.base, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, apiError(method, path, resp)
}

// apiError turns a failed answer into an error of warder's kinds.
func apiError(method, path string, resp *http.Response) error {
	se := &statusError{Code: resp.StatusCode}
	var st struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&st) == nil {
		se.Reason, se.Message = st.Reason, st.Message
	}
	if se.Message == "" {
		se.Message = method + " " + path + ": " + http.StatusText(resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %w", warder.ErrNotFound, se)
	case resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("%w: %w", warder.ErrConflict, se)
	case resp.StatusCode == http.StatusUnprocessableEntity, resp.StatusCode == http.StatusBadRequest:
		return fmt.Errorf("%w: %w", warder.ErrInvalid, se)
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden,
		resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return fmt.Errorf("%w: %w", warder.ErrUnavailable, se)
	}
	return se
}

// query builds "?k=v&..." from pairs, leaving out empty values.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
