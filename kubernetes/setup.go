package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/warder/warder"
)

// Setup makes the namespace when it is missing and the NetworkPolicies
// that isolate agents. It is idempotent.
func (r *Runtime) Setup(ctx context.Context) error {
	err := r.api.do(ctx, http.MethodGet, "/api/v1/namespaces/"+url.PathEscape(r.cfg.Namespace), nil, nil)
	if errors.Is(err, warder.ErrNotFound) {
		ns := namespace{APIVersion: "v1", Kind: "Namespace", Metadata: meta{Name: r.cfg.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "warder"}}}
		err = r.api.do(ctx, http.MethodPost, "/api/v1/namespaces", ns, nil)
		if errors.Is(err, warder.ErrConflict) {
			err = nil
		}
		if err == nil {
			r.log.Info("created namespace for agents", "namespace", r.cfg.Namespace)
		}
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", r.cfg.Namespace, err)
	}
	collection := "/apis/networking.k8s.io/v1/namespaces/" + r.cfg.Namespace + "/networkpolicies"
	for _, np := range r.policies() {
		if err := r.apply(ctx, collection, np.Metadata.Name, np); err != nil {
			return fmt.Errorf("network policy %s: %w", np.Metadata.Name, err)
		}
	}
	if !r.cfg.EgressProxy.IsValid() {
		// A deployment that no longer has a proxy lets its internal
		// agents reach nothing again.
		name := r.proxyPolicyName()
		if err := r.api.do(ctx, http.MethodDelete, collection+"/"+url.PathEscape(name), nil, nil); err != nil && !errors.Is(err, warder.ErrNotFound) {
			return fmt.Errorf("network policy %s: %w", name, err)
		}
	}
	return r.probeIsolation(ctx) // gvisor.go
}

// apply creates obj at collection, or replaces the one of its name.
func (r *Runtime) apply(ctx context.Context, collection, name string, obj networkPolicy) error {
	var have networkPolicy
	err := r.api.do(ctx, http.MethodGet, collection+"/"+url.PathEscape(name), nil, &have)
	if errors.Is(err, warder.ErrNotFound) {
		return r.api.do(ctx, http.MethodPost, collection, obj, nil)
	}
	if err != nil {
		return err
	}
	obj.Metadata.ResourceVersion = have.Metadata.ResourceVersion
	return r.api.do(ctx, http.MethodPut, collection+"/"+url.PathEscape(name), obj, nil)
}

// PolicyNames are the NetworkPolicies Setup makes, for tests and docs.
func (r *Runtime) PolicyNames() []string {
	var names []string
	for _, p := range r.policies() {
		names = append(names, p.Metadata.Name)
	}
	return names
}

// policies are the isolation of the Docker runtime's networks, as
// NetworkPolicies (enforced only where the cluster's network plugin
// enforces them; see docs/kubernetes.md):
//   - no pod may open a connection to an agent but Warder's own
//     (labelled warder.io/control-plane=true, in ControlNamespace); traffic
//     from the node itself, where Warder runs outside the cluster, is
//     not subject to policies on common plugins. So agents cannot reach
//     each other, whoever owns them.
//   - an agent on the internal network may open no connection at all.
//   - a workspace helper (files.go) may neither be reached nor reach out:
//     Warder talks to it through the API server's exec only.
//   - with an egress proxy (Config.EgressProxy), an agent on the internal
//     network may open connections to the proxy's address and port, and
//     to nothing else: agents with an egress list go out through it, and
//     every internal agent reaches the LLM gateway it serves. The proxy
//     refuses to forward for an agent without a list.
func (r *Runtime) policies() []networkPolicy {
	ps := r.isolationPolicies()
	if r.cfg.EgressProxy.IsValid() {
		ps = append(ps, r.proxyPolicy())
	}
	return ps
}

func (r *Runtime) proxyPolicyName() string { return dnsName("warder-"+r.cfg.Network) + "-proxy" }

// proxyPolicy lets internal agents reach the egress proxy: its address
// as an ipBlock (Warder outside the cluster, or a pod whose address is
// fixed), or, on the same port, Warder's own pods (labelled
// warder.io/control-plane=true in ControlNamespace) when it runs in the
// cluster.
func (r *Runtime) proxyPolicy() networkPolicy {
	addr := r.cfg.EgressProxy.Addr().Unmap()
	bits := 32
	if addr.Is6() {
		bits = 128
	}
	return networkPolicy{
		APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
		Metadata: meta{Name: r.proxyPolicyName(), Namespace: r.cfg.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "warder"}},
		Spec: networkPolicySpec{
			PodSelector: labelSelector{MatchLabels: map[string]string{warder.LabelManaged: r.cfg.Network, labelNetwork: warder.NetworkInternal}},
			PolicyTypes: []string{"Egress"},
			Egress: []egressRuleObj{{
				To: []peer{
					{IPBlock: &ipBlock{CIDR: netip.PrefixFrom(addr, bits).String()}},
					{
						NamespaceSelector: &labelSelector{MatchLabels: map[string]string{labelNamespaceName: r.cfg.ControlNamespace}},
						PodSelector:       &labelSelector{MatchLabels: map[string]string{labelControlPlane: "true"}},
					},
				},
				Ports: []policyPort{{Protocol: "TCP", Port: int(r.cfg.EgressProxy.Port())}},
			}},
		},
	}
}

// isolationPolicies are the policies every deployment has.
func (r *Runtime) isolationPolicies() []networkPolicy {
	agents := map[string]string{warder.LabelManaged: r.cfg.Network}
	internal := map[string]string{warder.LabelManaged: r.cfg.Network, labelNetwork: warder.NetworkInternal}
	labels := map[string]string{"app.kubernetes.io/managed-by": "warder"}
	base := dnsName("warder-" + r.cfg.Network)
	return []networkPolicy{
		{
			APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
			Metadata: meta{Name: base + "-ingress", Namespace: r.cfg.Namespace, Labels: labels},
			Spec: networkPolicySpec{
				PodSelector: labelSelector{MatchLabels: agents},
				PolicyTypes: []string{"Ingress"},
				Ingress: []ingressRule{{From: []peer{{
					// Only Warder's namespace: a pod anyone makes elsewhere
					// in the cluster, labelled as the control plane, is not
					// let in.
					NamespaceSelector: &labelSelector{MatchLabels: map[string]string{labelNamespaceName: r.cfg.ControlNamespace}},
					PodSelector:       &labelSelector{MatchLabels: map[string]string{labelControlPlane: "true"}},
				}}}},
			},
		},
		{
			APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
			Metadata: meta{Name: base + "-internal", Namespace: r.cfg.Namespace, Labels: labels},
			Spec: networkPolicySpec{
				PodSelector: labelSelector{MatchLabels: internal},
				PolicyTypes: []string{"Egress"},
			},
		},
		{
			APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
			Metadata: meta{Name: base + "-helpers", Namespace: r.cfg.Namespace, Labels: labels},
			Spec: networkPolicySpec{
				PodSelector: labelSelector{MatchLabels: map[string]string{labelHelper: r.cfg.Network}},
				PolicyTypes: []string{"Ingress", "Egress"},
			},
		},
	}
}

// dnsName turns s into an object name Kubernetes accepts: lower case
// letters, digits and '-', at most 50 characters so suffixes fit.
func dnsName(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b[:min(len(b), 50)]), "-")
}
