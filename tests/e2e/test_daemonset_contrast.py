"""A DaemonSet's pods next to a static pod: who owns them, and what removing the owner does.

Sources: DaemonSet concept page (one pod per eligible node, owned by the DaemonSet, garbage-collected
with it); pkg/kubelet/pod/mirror_client.go (a mirror pod's only owner is its Node);
plugin/pkg/admission/noderestriction (a node may create only pods it owns, as their controller).
"""

import pytest


@pytest.mark.claim("S19", "confirmed")
def test_daemonset_pods_go_with_their_daemonset_while_a_static_pod_has_only_its_node(
    static_pods, test_daemonsets, kind_cluster_ready
):
    """S19; DaemonSet docs; mirror_client.go; noderestriction admitPodCreate."""
    static = static_pods.place(static_pods.manifest())
    mirror, container = static.wait_up()

    pods = test_daemonsets.create_ready(static_pods.image)

    assert len(pods) == len(kind_cluster_ready.nodes)
    assert {(o.kind, o.controller) for p in pods for o in p.metadata.owner_references} == {
        ("DaemonSet", True)
    }
    owners = mirror.metadata.owner_references
    assert [(o.kind, o.name, o.controller) for o in owners] == [("Node", static.node.name, True)]
    test_daemonsets.delete_all()
    static.assert_container_kept(container)
