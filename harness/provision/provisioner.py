"""A ready cluster for a kind config: the one place that turns a run's settings into clusters.

Used by the pytest plugin, `make measure` and the tools built on them. It owns:
- the node image, chosen once per run (a concrete image reference is trusted as it is);
- cluster names, one per kind config (`<name>-<config>`), so kept clusters never collide;
- the effective kind config (host and offline-image patches, harness.cluster.kindconfig);
- the test image (the user's --sph-test-image, or the suite's, built once), loaded into every cluster;
- the admin kubeconfigs, in a private directory of the run (mode 0700, files 0600), never in the
  artifacts directory CI uploads, and removed when the run ends (`close()`);
- the end of each cluster: kind's logs exported (secrets redacted) into artifacts/kind-logs/<cluster>/
  when the run had failures, then deleted unless kept or reused; on an interrupt, `abort()` deletes
  every cluster this run created before anything else is cleaned up.
Tests run grouped by kind config, so asking for another config's cluster releases the current
one: only one runs at a time (two-core machines do not hold several clusters well), unless
kept (KEEP_CLUSTER=1), when each config's cluster stays for the user.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker

from harness.cluster import kindconfig
from harness.cluster.cluster import Cluster
from harness.cluster.hostfacts import HostFacts
from harness.cluster.kind import Kind
from harness.cluster.lifecycle import create_cluster, delete_cluster, refuse_taken, reuse_cluster
from harness.dockerclient import image_exists
from harness.errors import HarnessError
from harness.heartbeat import heartbeat
from harness.interrupts import signals_held
from harness.provision import leftovers
from harness.provision.nodeimages import NodeImage, resolve_node_image
from harness.provision.testimage import build_test_image
from harness.redact import redact_tree
from harness.versions import Behaviour, KubeVersion


def log(message: str) -> None:
    print(f"[provision] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ProvisionRequest:
    k8s_version: KubeVersion
    node_image: str  # auto | offline | official | an image reference
    kind_bin: Path
    name: str  # clusters are named <name>-<kind config name>
    artifacts_dir: Path
    keep: bool = False
    reuse: str | None = None  # an existing cluster to run against (never deleted)
    test_image: str | None = None  # the user's image instead of the suite's testapp
    owns_kind_network: bool = True  # False in a parallel worker: see create_cluster


@dataclass
class Provisioner:
    request: ProvisionRequest
    client: docker.DockerClient
    failed: Callable[[], bool] = lambda: False  # asked when a cluster ends: export kind's logs?
    # What a reused cluster needs before tests run on it (a layer above knows: the plugin and bench pass
    # harness.staticpods.control_plane.repair_parked_api_server, which puts back a parked API server).
    on_reuse: Callable[[Cluster], None] = lambda cluster: None
    # What a cluster this run made needs before tests run on it (the plugin passes the kubelet swap of
    # --sph-kubelet-version, which makes a skewed cluster).
    on_create: Callable[[Cluster], None] = lambda cluster: None
    _image: NodeImage | None = field(default=None, init=False)
    _image_error: str | None = field(default=None, init=False)
    _test_image: str | None = field(default=None, init=False)
    _current: tuple[Path, Cluster] | None = field(default=None, init=False)
    _created: list[Cluster] = field(default_factory=list, init=False)
    _broken: dict[Path, str] = field(default_factory=dict, init=False)
    _private: Path | None = field(default=None, init=False)  # kubeconfigs: mode 0700, removed at the end

    def __post_init__(self) -> None:
        self.kind = Kind(self.request.kind_bin)

    def cluster_name(self, kind_config: Path) -> str:
        return self.request.reuse or f"{self.request.name}-{kind_config.stem}"

    def ready_cluster(self, kind_config: Path) -> Cluster:
        """The cluster for `kind_config`, made (or found) once; a config that failed once fails again
        at once with the same one-line reason, instead of a new cluster for every test."""
        if self._current and self._current[0] == kind_config:
            return self._current[1]
        if kind_config in self._broken:
            raise HarnessError(self._broken[kind_config])
        self.release()
        try:
            self._provision(kind_config)
        except Exception as exc:
            self.release()  # a cluster made before a later step failed goes too
            reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, HarnessError) else str(exc)
            self._broken[kind_config] = f"{kind_config.stem}: {reason}"
            raise HarnessError(self._broken[kind_config]) from (
                None if isinstance(exc, HarnessError) else exc
            )
        assert self._current is not None
        return self._current[1]

    @property
    def test_image(self) -> str:
        assert self._test_image, "the test image is loaded with the first cluster"
        return self._test_image

    def release(self) -> None:
        """End the current cluster: export logs if the run failed, then delete it unless kept or reused."""
        if self._current is None:
            return
        _, cluster = self._current
        self._current = None
        if cluster.deleted:  # by abort(): nothing is left to export, keep or delete
            return
        if self.failed():
            self._export_logs(cluster)
        if self.request.reuse:
            return
        if self.request.keep:
            leftovers.forget(cluster.name)
            log(f"keeping {cluster.name} (its kubeconfig: kind export kubeconfig --name {cluster.name})")
            return
        delete_cluster(cluster)
        leftovers.forget(cluster.name)

    def close(self) -> None:
        """The run is over: release the current cluster, then remove the run's kubeconfigs."""
        try:
            self.release()
        finally:
            self._remove_private()

    def abort(self) -> None:
        """Interrupted: delete every cluster this run created, now (kept ones too: the run did not end).

        A cluster that cannot be deleted keeps its record, so the next run names it."""
        with signals_held("deleting this run's clusters"):
            for cluster in self._created:
                try:
                    delete_cluster(cluster)
                except Exception as exc:
                    log(f"could not delete {cluster.name}: {exc}; `make clean` removes it")
                else:
                    leftovers.forget(cluster.name)
            self._remove_private()

    def _kubeconfig(self, name: str) -> Path:
        if self._private is None:
            self._private = Path(tempfile.mkdtemp(prefix="static-pod-harness-"))
        return self._private / f"{name}.kubeconfig"

    def _remove_private(self) -> None:
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None

    def _provision(self, kind_config: Path) -> None:
        """Make (or find) the cluster, current from then on so that release() ends it, then ready it."""
        work_dir = self.request.artifacts_dir / "clusters" / self.cluster_name(kind_config)
        # Built before any cluster is made: a missing Go toolchain costs no cluster.
        self._test_image = self._test_image or self._find_test_image()
        name = self.cluster_name(kind_config)
        if self.request.reuse:
            cluster = reuse_cluster(self.kind, name, self._kubeconfig(name), self.client)
        else:
            cluster = self._create(kind_config, work_dir)
        self._current = (kind_config, cluster)
        if self.request.reuse:
            self.on_reuse(cluster)
        else:
            self.on_create(cluster)
        with heartbeat(f"loading {self._test_image} into {cluster.name}", log):
            cluster.kind.load_docker_image(self._test_image)

    def _find_test_image(self) -> str:
        """--sph-test-image as it is in the local Docker (kind loads it from there), else the suite's."""
        own = self.request.test_image
        if own is None:
            return build_test_image(self.client)
        if not image_exists(self.client, own):
            raise HarnessError(
                f"--sph-test-image {own} is not in the local Docker: build or pull it first "
                "(kind loads images into the nodes from there)"
            )
        return own

    def _create(self, kind_config: Path, work_dir: Path) -> Cluster:
        if self._image is None:
            if self._image_error:  # one failed build or choice is not tried again for every config
                raise HarnessError(self._image_error)
            leftovers.warn(self.kind, self.client)
            try:
                self._image = resolve_node_image(
                    self.request.node_image, self.request.k8s_version, self.client
                )
            except HarnessError as exc:
                self._image_error = f"node image: {exc}"
                raise HarnessError(self._image_error) from None
            if HostFacts.read().cgroup_v1 and self.request.k8s_version.has(Behaviour.FAILS_ON_CGROUP_V1):
                log(
                    "this host runs cgroup v1: the kubelets get failCgroupV1: false (KEP-5573), and kind "
                    "warns that cgroup v1 is deprecated"
                )
        config = kindconfig.render(
            kindconfig.load(kind_config),
            version=self.request.k8s_version,
            host=HostFacts.read(),
            offline_image=self._image.offline,
        )
        name = self.cluster_name(kind_config)
        refuse_taken(self.kind, name)  # before recording: a record names only what this run makes
        leftovers.record(name)
        try:
            cluster = create_cluster(
                self.kind,
                name,
                self._image.reference,
                config,
                work_dir / "kind-config.yaml",
                self._kubeconfig(name),
                self.client,
                offline_image=self._image.offline,
                owns_network=self.request.owns_kind_network,
            )
        except BaseException:
            leftovers.forget(name)
            raise
        self._created.append(cluster)
        return cluster

    def _export_logs(self, cluster: Cluster) -> None:
        directory = self.request.artifacts_dir / "kind-logs" / cluster.name
        try:
            self.kind.export_logs(cluster.name, directory)
        except HarnessError as exc:
            log(f"could not export kind's logs of {cluster.name}: {exc}")
        else:
            redacted = redact_tree(directory)
            log(f"kind's logs of {cluster.name}: {directory} (secrets redacted in {redacted} files)")
