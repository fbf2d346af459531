// A stand-in for sigs.k8s.io/iptables-wrappers, used only when the Go module proxy refuses
// that module (harness/nodeimage/standins.py).
module sigs.k8s.io/iptables-wrappers

go 1.24
