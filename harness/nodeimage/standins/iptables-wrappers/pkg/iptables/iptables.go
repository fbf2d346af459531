// Package iptables stands in for sigs.k8s.io/iptables-wrappers/pkg/iptables where the Go module
// proxy refuses that module (why: docs/versions.md). It declares only what the kubelet uses, and it
// finds no iptables on the host, so the kubelet skips its KUBE-IPTABLES-HINT chain and KUBE-FIREWALL
// rule (initNetworkUtil in pkg/kubelet/kubelet_network_linux.go).
package iptables

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
)

type (
	Table        string
	Chain        string
	Protocol     string
	RulePosition string
	Mode         int
)

const (
	TableNAT    Table = "nat"
	TableFilter Table = "filter"
	TableMangle Table = "mangle"

	ChainInput  Chain = "INPUT"
	ChainOutput Chain = "OUTPUT"

	ProtocolIPv4 Protocol = "IPv4"
	ProtocolIPv6 Protocol = "IPv6"

	Prepend RulePosition = "-I"
	Append  RulePosition = "-A"
)

const (
	UseInstalledMode Mode = iota
	DetectHostMode
)

// Interface is the part of the real Interface that the kubelet calls.
type Interface interface {
	EnsureChain(ctx context.Context, table Table, chain Chain) (bool, error)
	EnsureRule(ctx context.Context, position RulePosition, table Table, chain Chain, args ...string) (bool, error)
	IsIPv6() bool
	Protocol() Protocol
	Monitor(ctx context.Context, canary Chain, tables []Table, reloadFunc func(), interval time.Duration)
}

// NewBestEffort returns one Interface per IP family that has iptables: none here.
func NewBestEffort(_ context.Context, _ Mode) map[v1.IPFamily]Interface {
	return map[v1.IPFamily]Interface{}
}
