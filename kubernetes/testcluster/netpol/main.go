//go:build ignore

// netpol makes the test cluster enforce NetworkPolicies. The cluster's CNI
// bridge does not, so without it the isolation Warder's policies promise
// (no agent reaches another; an internal agent opens nothing) could not be
// tested. It runs the controller of sigs.k8s.io/kube-network-policies (SIG
// Network's reference implementation) as a process on the node, with the
// cluster's admin kubeconfig: the first packet of each connection is put on
// an nfqueue, and the controller accepts or drops it by the policies that
// select its source and destination pods.
//
// The controller would queue those packets with nftables rules of its own,
// but they need the kernel's nft "queue" expression, which this machine's
// kernel lacks: its sync fails (it logs that, and retries a few times) and
// it goes on deciding whatever reaches the queue. up.sh queues the packets
// with iptables' NFQUEUE target instead: every new connection a pod opens
// or is sent, pod to pod and pod to the node. What the node itself opens
// (Warder and the tests, outside the cluster; the kubelet) is not filtered,
// as on common plugins. The queue is not fail-open: with netpol gone, pods'
// new connections are dropped, never let through.
//
// build.sh builds it in a module of its own (this file is outside
// Warder's module: the ignore tag keeps it out of ./...); up.sh starts
// it; down.sh stops it and removes the queue rules.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the cluster's admin kubeconfig")
	node := flag.String("node", "", "the name of the node this runs on")
	table := flag.String("table", "warder-k8s-netpol", "the nftables table (inet) the controller tries to keep its rules in")
	queue := flag.Int("queue", 100, "the nfqueue number")
	klog.InitFlags(nil) // -v=2 logs every verdict
	flag.Parse()
	if err := run(*kubeconfig, *node, *table, *queue); err != nil {
		fmt.Fprintln(os.Stderr, "netpol:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, node, table string, queue int) error {
	if kubeconfig == "" || node == "" {
		return fmt.Errorf("-kubeconfig and -node are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// NRI (pod addresses from the container runtime before the API server
	// has them) stays off, but not by NRIdisabled: with it, v0.8.0 crashes
	// on the first packet to an address that is no pod's (the node's). So
	// the NRI stub is made, and given a socket from the environment that
	// cannot be used: it never dials any runtime's NRI socket (Docker's
	// containerd included), its Run fails once, and pods are found by the
	// addresses the API server publishes.
	if err := os.Setenv("NRI_PLUGIN_SOCKET", "unused"); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := networkpolicy.NewController(client,
		factory.Networking().V1().NetworkPolicies(),
		factory.Core().V1().Namespaces(),
		factory.Core().V1().Pods(),
		nil, nil, nil, nil, // no node informer, no Admin/BaselineAdminNetworkPolicy
		networkpolicy.Config{
			NodeName:    node,
			QueueID:     queue,
			NFTableName: table,
			FailOpen:    false, // a packet it cannot parse is dropped
		})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	// Run returns once ctx ends.
	return c.Run(ctx)
}
