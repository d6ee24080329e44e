package kubernetes

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/warder/warder"
)

// Table tests of the NetworkPolicies Setup applies and of the workspace
// helpers' Pods: what each policy admits, read the way a network plugin
// reads it, with no cluster.

// policyRuntime is a runtime with only the configuration the policies
// and the helper Pods are made from.
func policyRuntime() *Runtime {
	return &Runtime{cfg: Config{Namespace: "warder-agents", Network: "warder_network", ControlNamespace: "warder-system", HelperImage: "warder/agent:1"}}
}

// endpointOf is one end of a connection: a pod (its namespace and labels)
// or, with outside set, an address beyond the cluster's pods; addr and
// port, where set, are the address and port connected to.
type endpointOf struct {
	namespace string
	labels    map[string]string
	outside   bool
	addr      netip.Addr
	port      int
}

func selects(sel *labelSelector, labels map[string]string) bool {
	if sel == nil {
		return true
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// peerMatches reads a peer as the NetworkPolicy API defines it: an
// ipBlock, addresses in its CIDR; with both selectors, pods matching the
// pod selector in namespaces matching the namespace selector; with only
// a pod selector, pods of the policy's own namespace. Selectors match
// no address outside the cluster.
func peerMatches(pr peer, policyNS string, e endpointOf) bool {
	if pr.IPBlock != nil {
		p, err := netip.ParsePrefix(pr.IPBlock.CIDR)
		return err == nil && e.addr.IsValid() && p.Contains(e.addr)
	}
	if e.outside {
		return false
	}
	if pr.NamespaceSelector == nil && e.namespace != policyNS {
		return false
	}
	return selects(pr.NamespaceSelector, map[string]string{labelNamespaceName: e.namespace}) && selects(pr.PodSelector, e.labels)
}

// admits reports whether the policies let from open a connection to to.
func admits(policies []networkPolicy, from, to endpointOf) bool {
	egressOK, egressIsolated := false, false
	ingressOK, ingressIsolated := false, false
	for _, np := range policies {
		sel := np.Spec.PodSelector
		if !from.outside && from.namespace == np.Metadata.Namespace && selects(&sel, from.labels) && slices.Contains(np.Spec.PolicyTypes, "Egress") {
			egressIsolated = true
			for _, r := range np.Spec.Egress {
				ok := len(r.To) == 0
				for _, pr := range r.To {
					ok = ok || peerMatches(pr, np.Metadata.Namespace, to)
				}
				portOK := len(r.Ports) == 0
				for _, p := range r.Ports {
					portOK = portOK || (p.Protocol == "TCP" && p.Port == to.port)
				}
				egressOK = egressOK || (ok && portOK)
			}
		}
		if !to.outside && to.namespace == np.Metadata.Namespace && selects(&sel, to.labels) && slices.Contains(np.Spec.PolicyTypes, "Ingress") {
			ingressIsolated = true
			for _, r := range np.Spec.Ingress {
				ok := len(r.From) == 0
				for _, pr := range r.From {
					ok = ok || peerMatches(pr, np.Metadata.Namespace, from)
				}
				ingressOK = ingressOK || ok
			}
		}
	}
	return (!egressIsolated || egressOK) && (!ingressIsolated || ingressOK)
}

// TestPoliciesAdmit: only Warder's own pods, in its own namespace, reach
// an agent; agents never reach each other; an internal agent reaches
// nothing; helpers are reached by none and reach none; pods that are not
// this deployment's are left alone.
func TestPoliciesAdmit(t *testing.T) {
	r := policyRuntime()
	policies := r.policies()
	agentLabels := func(agent, user string, internal bool) map[string]string {
		spec := testSpec()
		spec.Labels = map[string]string{warder.LabelManaged: r.cfg.Network, warder.LabelAgentID: agent, warder.LabelUserID: user}
		spec.Internal = internal
		return podOf(r.cfg.Namespace, spec, "u").Metadata.Labels
	}
	ns := r.cfg.Namespace
	var (
		egressAgent   = endpointOf{namespace: ns, labels: agentLabels("a1", "u1", false)}
		sameOwner     = endpointOf{namespace: ns, labels: agentLabels("a2", "u1", false)}
		otherOwner    = endpointOf{namespace: ns, labels: agentLabels("b1", "u2", false)}
		internalAgent = endpointOf{namespace: ns, labels: agentLabels("c1", "u1", true)}
		helper        = endpointOf{namespace: ns, labels: r.helperPod(helperSpec{claim: "warder-ws-a1", role: roleFiles, uid: 65534, gid: 65534}).Metadata.Labels}
		measure       = endpointOf{namespace: ns, labels: r.helperPod(helperSpec{claim: "warder-ws-a1", role: roleMeasure}).Metadata.Labels}
		control       = endpointOf{namespace: "warder-system", labels: map[string]string{labelControlPlane: "true"}}
		controlUnlab  = endpointOf{namespace: "warder-system", labels: map[string]string{"app": "warder"}}
		rogueElse     = endpointOf{namespace: "default", labels: map[string]string{labelControlPlane: "true"}}
		rogueHere     = endpointOf{namespace: ns, labels: map[string]string{labelControlPlane: "true"}}
		otherDeploy   = endpointOf{namespace: ns, labels: map[string]string{warder.LabelManaged: "other_network", labelNetwork: warder.NetworkInternal}}
		outside       = endpointOf{outside: true}
	)
	tests := []struct {
		name     string
		from, to endpointOf
		want     bool
	}{
		{"Warder's control plane to an agent", control, egressAgent, true},
		{"Warder's control plane to an internal agent", control, internalAgent, true},
		{"an address outside the cluster to an agent", outside, egressAgent, false},
		{"an agent to the outside", egressAgent, outside, true},
		{"an agent to Warder's control plane", egressAgent, control, true},
		{"an agent to an agent of its owner", egressAgent, sameOwner, false},
		{"an agent to an agent of another owner", egressAgent, otherOwner, false},
		{"an agent to an internal agent", egressAgent, internalAgent, false},
		{"an internal agent to the outside", internalAgent, outside, false},
		{"an internal agent to Warder's control plane", internalAgent, control, false},
		{"an internal agent to an agent", internalAgent, egressAgent, false},
		{"an unlabelled pod of Warder's namespace to an agent", controlUnlab, egressAgent, false},
		{"a pod labelled as the control plane elsewhere", rogueElse, egressAgent, false},
		{"a pod labelled as the control plane in the agents' namespace", rogueHere, egressAgent, false},
		{"an agent to a helper", egressAgent, helper, false},
		{"Warder's control plane to a helper", control, helper, false},
		{"Warder's control plane to a measuring helper", control, measure, false},
		{"a helper to the outside", helper, outside, false},
		{"a helper to Warder's control plane", helper, control, false},
		{"a measuring helper to an agent", measure, egressAgent, false},
		{"another deployment's internal agent, to the outside", otherDeploy, outside, true},
		{"anyone to another deployment's agent", rogueElse, otherDeploy, true},
	}
	for _, tt := range tests {
		if got := admits(policies, tt.from, tt.to); got != tt.want {
			t.Errorf("%s: admitted %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestProxyPolicyAdmits: with an egress proxy, agents on the internal
// network (egress "none" or a list) reach its address and port and
// nothing else, whether Warder runs outside the cluster (the address) or
// in it (its own pods, on the proxy's port); egress agents are as
// before; without a proxy there is no such policy.
func TestProxyPolicyAdmits(t *testing.T) {
	r := policyRuntime()
	if slices.Contains(r.PolicyNames(), "warder-warder-network-proxy") {
		t.Fatal("a deployment without an egress proxy has a proxy policy")
	}
	r.cfg.EgressProxy = netip.MustParseAddrPort("10.88.0.1:3128")
	if got := r.PolicyNames(); !slices.Equal(got, []string{"warder-warder-network-ingress", "warder-warder-network-internal", "warder-warder-network-helpers", "warder-warder-network-proxy"}) {
		t.Fatalf("names %v", got)
	}
	policies := r.policies()
	ns := r.cfg.Namespace
	agent := func(internal bool) endpointOf {
		spec := testSpec()
		spec.Labels = map[string]string{warder.LabelManaged: r.cfg.Network, warder.LabelAgentID: "a1", warder.LabelUserID: "u1"}
		spec.Internal = internal
		return endpointOf{namespace: ns, labels: podOf(ns, spec, "u").Metadata.Labels}
	}
	outside := func(addr string, port int) endpointOf {
		return endpointOf{outside: true, addr: netip.MustParseAddr(addr), port: port}
	}
	control := func(port int) endpointOf {
		return endpointOf{namespace: "warder-system", labels: map[string]string{labelControlPlane: "true"}, addr: netip.MustParseAddr("10.244.0.9"), port: port}
	}
	helper := endpointOf{namespace: ns, labels: r.helperPod(helperSpec{claim: "warder-ws-a1", role: roleFiles, uid: 65534, gid: 65534}).Metadata.Labels}
	otherDeploy := endpointOf{namespace: ns, labels: map[string]string{warder.LabelManaged: "other_network", labelNetwork: warder.NetworkInternal}}
	internal, egressAgent := agent(true), agent(false)
	for _, tt := range []struct {
		name     string
		from, to endpointOf
		want     bool
	}{
		{"an internal agent to the proxy", internal, outside("10.88.0.1", 3128), true},
		{"an internal agent to the proxy's address, another port", internal, outside("10.88.0.1", 22), false},
		{"an internal agent to another address, the proxy's port", internal, outside("10.88.0.2", 3128), false},
		{"an internal agent to the outside", internal, outside("203.0.113.7", 443), false},
		{"an internal agent to Warder's pods, the proxy's port", internal, control(3128), true},
		{"an internal agent to Warder's pods, another port", internal, control(8000), false},
		{"an internal agent to an agent, the proxy's port", internal, endpointOf{namespace: ns, labels: egressAgent.labels, port: 3128}, false},
		{"an egress agent to the outside", egressAgent, outside("203.0.113.7", 443), true},
		{"a helper to the proxy", helper, outside("10.88.0.1", 3128), false},
		{"another deployment's internal agent, to the outside", otherDeploy, outside("203.0.113.7", 443), true},
	} {
		if got := admits(policies, tt.from, tt.to); got != tt.want {
			t.Errorf("%s: admitted %v, want %v", tt.name, got, tt.want)
		}
	}
	raw, _ := json.Marshal(r.proxyPolicy().Spec.Egress)
	if want := `[{"to":[{"ipBlock":{"cidr":"10.88.0.1/32"}},{"podSelector":{"matchLabels":{"warder.io/control-plane":"true"}},"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"warder-system"}}}],"ports":[{"protocol":"TCP","port":3128}]}]`; string(raw) != want {
		t.Errorf("the proxy policy's egress\n%s\nwant\n%s", raw, want)
	}
}

// TestPolicyObjects checks the objects as the API server receives them: an
// empty egress list denies all egress (an empty rule would allow all),
// names are DNS labels derived from the network, every policy is in the
// agents' namespace and labelled as Warder's.
func TestPolicyObjects(t *testing.T) {
	tests := []struct {
		network   string
		wantNames []string
	}{
		{"warder_network", []string{"warder-warder-network-ingress", "warder-warder-network-internal", "warder-warder-network-helpers"}},
		{"Team.A", []string{"warder-team-a-ingress", "warder-team-a-internal", "warder-team-a-helpers"}},
	}
	for _, tt := range tests {
		r := policyRuntime()
		r.cfg.Network = tt.network
		if got := r.PolicyNames(); !slices.Equal(got, tt.wantNames) {
			t.Errorf("%s: names %v, want %v", tt.network, got, tt.wantNames)
		}
		for _, np := range r.policies() {
			if np.APIVersion != "networking.k8s.io/v1" || np.Kind != "NetworkPolicy" || np.Metadata.Namespace != "warder-agents" ||
				np.Metadata.Labels["app.kubernetes.io/managed-by"] != "warder" {
				t.Errorf("%s: %s/%s in %q, labels %v", np.Metadata.Name, np.APIVersion, np.Kind, np.Metadata.Namespace, np.Metadata.Labels)
			}
			if len(np.Metadata.Name) > 63 || !namespaceRe.MatchString(np.Metadata.Name) {
				t.Errorf("%q is no DNS label", np.Metadata.Name)
			}
			sel := np.Spec.PodSelector.MatchLabels
			if sel[warder.LabelManaged] != tt.network && sel[labelHelper] != tt.network {
				t.Errorf("%s selects %v, not this deployment's pods", np.Metadata.Name, sel)
			}
		}
	}
	raw, err := json.Marshal(policyRuntime().policies())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		types              string
		ingress, egress    bool // the key is present
		ingressPeersSelect string
	}{
		{"Ingress", true, false, `[{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"warder-system"}},"podSelector":{"matchLabels":{"warder.io/control-plane":"true"}}}]}]`},
		{"Egress", false, false, ""},
		{"Ingress,Egress", false, false, ""},
	} {
		spec := got[i]["spec"].(map[string]any)
		var types []string
		for _, ty := range spec["policyTypes"].([]any) {
			types = append(types, ty.(string))
		}
		_, hasIngress := spec["ingress"]
		_, hasEgress := spec["egress"]
		if strings.Join(types, ",") != want.types || hasIngress != want.ingress || hasEgress != want.egress {
			t.Errorf("policy %d: types %v, ingress %v, egress %v; want %s, %v, %v", i, types, hasIngress, hasEgress, want.types, want.ingress, want.egress)
		}
		if want.ingressPeersSelect != "" {
			b, _ := json.Marshal(spec["ingress"])
			if string(b) != want.ingressPeersSelect {
				t.Errorf("policy %d: ingress %s, want %s", i, b, want.ingressPeersSelect)
			}
		}
	}
}

// TestDNSNameTable: object names from any network name are DNS labels of
// at most 50 characters, so suffixes fit.
func TestDNSNameTable(t *testing.T) {
	for in, want := range map[string]string{
		"warder-warder_network":             "warder-warder-network",
		"Warder.Prod":                       "warder-prod",
		"--x--":                             "x",
		"agents_é":                          "agents",
		strings.Repeat("ab", 40):            strings.Repeat("ab", 25),
		"x" + strings.Repeat("-", 60) + "y": "x",
	} {
		got := dnsName(in)
		if got != want {
			t.Errorf("dnsName(%q) = %q, want %q", in, got, want)
		}
		if len(got) > 50 || (got != "" && !namespaceRe.MatchString(got)) {
			t.Errorf("dnsName(%q) = %q is no DNS label of 50 characters", in, got)
		}
	}
}

// TestHelperPodTable: a files helper runs as the agent's user (group
// owning the workspace unless it is root), a measuring helper as root
// with only DAC_READ_SEARCH and a read-only mount; both are hardened,
// pinned to the agent's node, end by themselves, and carry the label the
// helpers' NetworkPolicy isolates.
func TestHelperPodTable(t *testing.T) {
	r := policyRuntime()
	tests := []struct {
		name        string
		h           helperSpec
		user, group int64
		nonRoot     bool
		fsGroup     bool
		readOnly    bool
		add         []string
	}{
		{"files, as nobody", helperSpec{claim: "warder-ws-a1", role: roleFiles, uid: 65534, gid: 65534, node: "n1"}, 65534, 65534, true, true, false, nil},
		{"files, as the image's user", helperSpec{claim: "warder-ws-a1", role: roleFiles, uid: 1000, gid: 100, node: "n2"}, 1000, 100, true, true, false, nil},
		{"files, as root (root allowed)", helperSpec{claim: "warder-ws-a1", role: roleFiles, uid: 0, gid: 0}, 0, 0, false, false, false, nil},
		{"measure", helperSpec{claim: "warder-ws-a1", role: roleMeasure, uid: 1000, gid: 1000, node: "n1"}, 0, 0, false, false, true, []string{"DAC_READ_SEARCH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := r.helperPod(tt.h)
			if p.Metadata.Name != tt.h.claim+"-"+string(tt.h.role) || p.Metadata.Namespace != "warder-agents" {
				t.Errorf("name %q in %q", p.Metadata.Name, p.Metadata.Namespace)
			}
			if p.Metadata.Labels[labelHelper] != "warder_network" || p.Metadata.Labels[warder.LabelManaged] != "" {
				t.Errorf("labels %v: want the helper label, not an agent's", p.Metadata.Labels)
			}
			if p.Metadata.Annotations[annotHelperUser] != tt.h.user() {
				t.Errorf("helper user annotation %q, want %q", p.Metadata.Annotations[annotHelperUser], tt.h.user())
			}
			s := p.Spec
			if len(s.Containers) != 1 || s.RestartPolicy != "Never" || s.NodeName != tt.h.node ||
				s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken || s.EnableServiceLinks == nil || *s.EnableServiceLinks ||
				s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 360 || s.TerminationGracePeriodSeconds == nil || *s.TerminationGracePeriodSeconds != 0 {
				t.Errorf("pod spec = %+v", s)
			}
			c := s.Containers[0]
			if c.Image != "warder/agent:1" || !slices.Equal(c.Command, []string{"/warder-agent", "sleep", "300"}) {
				t.Errorf("container runs %s %v", c.Image, c.Command)
			}
			sc := c.SecurityContext
			if *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || *sc.Privileged ||
				!slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || !slices.Equal(sc.Capabilities.Add, tt.add) {
				t.Errorf("container security context = %+v, capabilities %+v", sc, sc.Capabilities)
			}
			if c.Resources.Limits["memory"] == "" || c.Resources.Limits["cpu"] == "" {
				t.Errorf("helper without limits: %+v", c.Resources)
			}
			if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != warder.WorkspaceMountPath || c.VolumeMounts[0].ReadOnly != tt.readOnly ||
				len(s.Volumes) != 1 || s.Volumes[0].PersistentVolumeClaim == nil || s.Volumes[0].PersistentVolumeClaim.ClaimName != tt.h.claim {
				t.Errorf("mounts %+v, volumes %+v", c.VolumeMounts, s.Volumes)
			}
			psc := s.SecurityContext
			if psc.SeccompProfile == nil || psc.SeccompProfile.Type != "RuntimeDefault" ||
				psc.RunAsUser == nil || *psc.RunAsUser != tt.user || psc.RunAsGroup == nil || *psc.RunAsGroup != tt.group {
				t.Errorf("pod security context = %+v, want %d:%d", psc, tt.user, tt.group)
			}
			if (psc.RunAsNonRoot != nil && *psc.RunAsNonRoot) != tt.nonRoot || (psc.FSGroup != nil) != tt.fsGroup ||
				(tt.fsGroup && *psc.FSGroup != tt.group) {
				t.Errorf("runAsNonRoot %v, fsGroup %v; want %v, %v", psc.RunAsNonRoot, psc.FSGroup, tt.nonRoot, tt.fsGroup)
			}
		})
	}
}

// TestHelperReadiness: a helper is ready when its container runs in a
// running Pod, and stuck for the same reasons an agent cannot start.
func TestHelperReadiness(t *testing.T) {
	running := `{"running":{"startedAt":"2026-12-01T09:00:00Z"}}`
	tests := []struct {
		name    string
		status  string
		ready   bool
		stuckBy string
	}{
		{"pending", `{"phase":"Pending"}`, false, ""},
		{"creating", `{"phase":"Pending","containerStatuses":[{"name":"helper","state":{"waiting":{"reason":"ContainerCreating"}}}]}`, false, ""},
		{"running", `{"phase":"Running","containerStatuses":[{"name":"helper","state":` + running + `}]}`, true, ""},
		{"container runs, pod not yet Running", `{"phase":"Pending","containerStatuses":[{"name":"helper","state":` + running + `}]}`, false, ""},
		{"another container runs", `{"phase":"Running","containerStatuses":[{"name":"agent","state":` + running + `}]}`, false, ""},
		{"image missing", `{"phase":"Pending","containerStatuses":[{"name":"helper","state":{"waiting":{"reason":"ImagePullBackOff","message":"no such image"}}}]}`,
			false, "ImagePullBackOff: no such image"},
		{"bad config", `{"phase":"Pending","containerStatuses":[{"name":"helper","state":{"waiting":{"reason":"CreateContainerConfigError","message":"x"}}}]}`,
			false, "CreateContainerConfigError: x"},
	}
	for _, tt := range tests {
		var p pod
		if err := json.Unmarshal([]byte(`{"status":`+tt.status+`}`), &p); err != nil {
			t.Fatal(err)
		}
		if got := helperRunning(&p); got != tt.ready {
			t.Errorf("%s: running %v, want %v", tt.name, got, tt.ready)
		}
		if got := helperStuck(&p); got != tt.stuckBy {
			t.Errorf("%s: stuck %q, want %q", tt.name, got, tt.stuckBy)
		}
	}
}
