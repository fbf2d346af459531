"""The kind config a cluster is really created from: the user's, plus what this host needs.

Users keep writing plain kind configs (kind-configs/*.yaml). Three kinds of patch are
added here, only where they are needed, so that the same config works on a laptop, on
the CI machine and with either node image:
- host: containerd's `restrict_oom_score_adj` where the capability bounding set lacks
  CAP_SYS_RESOURCE (runc cannot set the -998 CRI asks for sandboxes), and the kubelet's
  `failCgroupV1: false` on cgroup v1 hosts for the kubelets that refuse them (KEP-5573; kind skips
  kubeadm's preflight checks, which would refuse them too);
- offline image: no default CNI (kindnetd is not in it): each node gets the reference
  plugins' config mounted instead, and kube-controller-manager allocates no podCIDRs
  (harness.cluster.cni); no kube-proxy and no CoreDNS (their images are not built).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml

from harness.cluster import cni
from harness.cluster.hostfacts import HostFacts
from harness.errors import HarnessError
from harness.paths import KIND_CONFIGS
from harness.versions import Behaviour, KubeVersion

DEFAULT_KIND_CONFIG = KIND_CONFIGS / "single-node.yaml"

RESTRICT_OOM_SCORE_ADJ = '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
FAIL_CGROUP_V1_PATCH = "kind: KubeletConfiguration\nfailCgroupV1: false\n"
# kind's own list is [preflight, addon/kube-proxy]; a patch replaces lists whole.
OFFLINE_SKIP_PHASES_PATCH = (
    "kind: InitConfiguration\nskipPhases:\n  - preflight\n  - addon/kube-proxy\n  - addon/coredns\n"
)


def resolve(value: str | None) -> Path:
    """A path as given, or a name of a file in kind-configs/ ('multi-node')."""
    if not value:
        return DEFAULT_KIND_CONFIG
    path = Path(value)
    if path.exists():
        return path.resolve()
    for candidate in (KIND_CONFIGS / value, KIND_CONFIGS / f"{value}.yaml"):
        if candidate.exists():
            return candidate
    return path


def load(path: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise HarnessError(f"kind config {path} does not parse{where}: {problem}") from None
    except FileNotFoundError:
        shipped = ", ".join(sorted(p.stem for p in KIND_CONFIGS.glob("*.yaml")))
        raise HarnessError(
            f"kind config {path} does not exist: give a path, or one of {shipped} ({KIND_CONFIGS})"
        ) from None
    except OSError as exc:
        raise HarnessError(f"cannot read kind config {path}: {exc.strerror}") from None
    if (
        not isinstance(config, dict)
        or config.get("kind") != "Cluster"
        or "kind.x-k8s.io" not in str(config.get("apiVersion", ""))
    ):
        raise HarnessError(f"{path} is not a kind config (kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4)")
    nodes = config.get("nodes") or [{}]
    if not isinstance(nodes, list) or not all(isinstance(node, dict) for node in nodes):
        raise HarnessError(f"kind config {path}: nodes must be a list of nodes (- role: control-plane)")
    # kind's default role is control-plane (SetDefaultsNode in pkg/apis/config/v1alpha4).
    if not any(node.get("role", "control-plane") == "control-plane" for node in nodes):
        raise HarnessError(
            f"kind config {path} has no control-plane node: add `- role: control-plane` under nodes"
        )
    return config


def render(
    config: dict[str, Any], *, version: KubeVersion, host: HostFacts, offline_image: bool
) -> dict[str, Any]:
    """A new config with the patches this host and image need (the input is not changed). For the
    offline image it also writes the nodes' CNI configs to the cache, where their mounts point."""
    out = {**config}
    containerd = list(out.get("containerdConfigPatches", []))
    kubeadm = list(out.get("kubeadmConfigPatches", []))
    if not host.can_lower_oom_score:
        containerd.append(RESTRICT_OOM_SCORE_ADJ)
    if host.cgroup_v1 and version.has(Behaviour.FAILS_ON_CGROUP_V1):
        kubeadm.append(FAIL_CGROUP_V1_PATCH)
    if offline_image:
        networking = out.get("networking", {})
        out["networking"] = {**networking, "disableDefaultCNI": True, "kubeProxyMode": "none"}
        nodes = out.get("nodes") or [{}]
        out["nodes"] = cni.mount_configs(nodes, _pod_subnet(networking, len(nodes)))
        kubeadm += [OFFLINE_SKIP_PHASES_PATCH, cni.NO_NODE_CIDRS_PATCH]
    if containerd:
        out["containerdConfigPatches"] = containerd
    if kubeadm:
        out["kubeadmConfigPatches"] = kubeadm
    return out


def _pod_subnet(networking: dict[str, Any], nodes: int) -> str:
    """The podSubnet, if the offline pod network can take it: IPv4, a /24 for each node."""
    family, subnet = networking.get("ipFamily", "ipv4"), str(networking.get("podSubnet", cni.KIND_POD_SUBNET))
    try:
        network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = ipaddress.ip_network(subnet)
    except ValueError:
        network = None
    if (
        family != "ipv4"
        or not isinstance(network, ipaddress.IPv4Network)
        or network.prefixlen > 24
        or (2 ** (24 - network.prefixlen) < nodes)
    ):
        raise HarnessError(
            f"kind config: ipFamily {family}, podSubnet {subnet}: the offline node image's pod network "
            f"takes ipFamily ipv4 and an IPv4 podSubnet with a /24 for each of the {nodes} nodes (e.g. "
            "10.244.0.0/16); use the official image for others (NODE_IMAGE=official)"
        )
    return subnet


def node_count(config: dict[str, Any]) -> int:
    return len(config.get("nodes") or [{"role": "control-plane"}])
