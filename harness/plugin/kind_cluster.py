"""pytest-kind's `kind_cluster` fixture, answered by the harness: a test that asks for it gets the
pytest-kind handle (KindCluster) of the harness's cluster of --sph-kind-config, made and cleaned up
like every other, instead of a second cluster that pytest-kind would make on its own.

Registered as a plugin of its own at configure time (harness.plugin), after every entry-point
plugin: of two plugin fixtures with one name, pytest uses the one registered last.
"""

from __future__ import annotations

import pytest
from pytest_kind import KindCluster

from harness.cluster.cluster import Cluster

# The name it is registered under.
PLUGIN_NAME = "static-pod-harness-kind-cluster"


@pytest.fixture(scope="session")
def kind_cluster(kind_cluster_session: Cluster) -> KindCluster:
    """The harness's cluster as pytest-kind hands one out (kubeconfig_path, kubectl(), api, ...)."""
    return kind_cluster_session.kind
