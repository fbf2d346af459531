"""What the kubelet's journal says about static pods, at its default verbosity and above.

Sources: pkg/kubelet/kubelet.go syncLoopIteration (`klog.V(2).InfoS("SyncLoop ADD", "source", ...)`)
and tryReconcileMirrorPods (`klog.InfoS("Creating a mirror pod for static pod", ...)`, level 0);
kubelet-config.v1beta1 logging.verbosity (default 0; kubeadm and kind leave it so).
"""

from datetime import UTC, datetime

import pytest

S20_EVIDENCE = (
    "SyncLoop entries are logged only at verbosity 2 or more; kubeadm and kind run the kubelet at 0, where "
    'the journal names a static pod only in lines such as "Creating a mirror pod for static pod".'
)


@pytest.mark.claim("S20", "partly", S20_EVIDENCE)
def test_at_default_verbosity_the_journal_has_mirror_lines_but_no_syncloop_entries(static_pods):
    """S20; kubelet.go tryReconcileMirrorPods (level 0) and syncLoopIteration (level 2)."""
    node, since = static_pods.default_node(), datetime.now(UTC)
    assert node.kubelet.config().get("logging", {}).get("verbosity", 0) == 0

    pod = static_pods.place(static_pods.manifest(), node=node)
    pod.wait_for_running_mirror()

    pod.wait_for_log(since, "Creating a mirror pod for static pod", f"{pod.namespace}/{pod.mirror_name}")
    assert "SyncLoop" not in node.kubelet.journal(since)


@pytest.mark.disruptive
@pytest.mark.claim("S20", "partly", S20_EVIDENCE)
def test_at_verbosity_2_the_journal_has_syncloop_entries_naming_the_static_pod(
    kubelet_reconfigured, static_pods
):
    """S20; kubelet.go syncLoopIteration ("SyncLoop ADD"/"SyncLoop REMOVE", source "file")."""
    node = static_pods.default_node()
    kubelet_reconfigured(node, logging={"verbosity": 2})
    since = datetime.now(UTC)

    pod = static_pods.place(static_pods.manifest(), node=node)
    pod.wait_for_running_mirror()
    pod.wait_for_log(since, "SyncLoop ADD", 'source="file"', f"{pod.namespace}/{pod.mirror_name}")

    pod.remove_file()
    pod.wait_for_log(since, "SyncLoop REMOVE", 'source="file"', f"{pod.namespace}/{pod.mirror_name}")
