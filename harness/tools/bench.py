"""`make bench`: each core static pod behaviour N times on one cluster, the kubelet's latency by its
own timestamps beside the latency the harness observed; their difference is the harness's overhead.

Each round places one pod and takes it through every behaviour. The harness's latency runs from
its action taking effect (for a file: the manifest directory's mtime, the kernel's own time of the
rename or unlink; for the API: just before the request) to its wait returning; the kubelet's, by
its own timestamps:

* placed -> mirror visible: config.seen to its journal line "Creating a mirror pod for static pod"
  (logged right before the POST);
* placed -> container running: config.seen to the container's startedAt (crictl inspect);
* edited -> new container running: the new pod's config.seen to the new container's startedAt;
* mirror deleted (graceful, then forced) -> new mirror: the DELETE to "Creating a mirror pod";
* kubelet restarted -> node Ready, mirror present: the restart to the new kubelet's first renewal
  of its node lease (renewTime), which the harness waits for before Ready and the mirror;
* removed -> containers gone: the rm to the container's finishedAt;
* removed -> mirror gone: the rm to the pod's "Cleaned up orphaned pod volumes dir" line
  (kubelet_pods.go HandlePodCleanups logs it, then deletes orphaned mirrors in the same pass).

The kubelet logs nothing when it notices a removal, a deletion or a restart, so those rows start
from the harness's action for both. Journal times are journald's receive times (microseconds).
Node-side waits poll crictl every FAST_NODE_POLL seconds here; the API side is watched.
Kind nodes are containers on this host: one clock for the harness, the kubelet and the runtime.
"""

from __future__ import annotations

import argparse
import os
import platform
import posixpath
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from kubernetes import client as k8s

from harness import cli
from harness.cluster import kindconfig
from harness.cluster.cluster import Cluster
from harness.dockerclient import docker_client
from harness.interrupts import handle_interrupts, on_interrupt
from harness.node import ContainerStatus, NodeCommandError
from harness.paths import DEFAULT_KIND_BIN
from harness.provision.provisioner import Provisioner, ProvisionRequest
from harness.reports import bench as report
from harness.reports.bench import Sample
from harness.staticpods.control_plane import repair_parked_api_server
from harness.staticpods.manifest import CONFIG_MIRROR_ANNOTATION, CONFIG_SEEN_ANNOTATION
from harness.staticpods.pods import FAST_NODE_POLL, StaticPod, StaticPods
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion
from harness.waiting import watch_until

OVERHEAD_TARGET = 0.3  # seconds: the median overhead each behaviour should stay within
NODE_READY_TIMEOUT = 120
MIRROR_CREATED = "Creating a mirror pod for static pod"
VOLUMES_CLEANED = "Cleaned up orphaned pod volumes dir"


def now() -> datetime:
    return datetime.now(UTC)


def seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def first_log(pod: StaticPod, since: datetime, *fragments: str) -> datetime | None:
    times = pod.node.kubelet.log_times(since, *fragments)
    return times[0] if times else None


def changed_at(pod: StaticPod) -> datetime:
    """When the manifest directory last changed (a rename into it, an unlink): its mtime, to the ns."""
    directory = posixpath.dirname(pod.path)
    stamp = pod.node.run("stat", "-c", "%.9Y", "--", directory).stdout.strip()
    return datetime.fromtimestamp(float(stamp), UTC)


def config_seen(pod: StaticPod, container: ContainerStatus) -> datetime:
    """When the kubelet first saw the pod of `container`: its sandbox carries the pod's annotations."""
    (sandbox,) = [s for s in pod.node.crictl.pods(name=pod.mirror_name) if s.id == container.pod_sandbox_id]
    return datetime.fromisoformat(sandbox.annotations[CONFIG_SEEN_ANNOTATION])


def started_latency(pod: StaticPod, container: ContainerStatus) -> float | None:
    """config.seen of the container's pod to the container's startedAt."""
    return seconds(config_seen(pod, container), pod.node.crictl.status(container.id).started_at)


def place(pods: StaticPods) -> tuple[StaticPod, ContainerStatus, list[Sample]]:
    pod = pods.place(pods.manifest(prefix="bench"))
    pod.wait_for_mirror()
    mirror_seen = now()
    container = pod.wait_running()
    running_seen = now()
    start = changed_at(pod)
    created = first_log(pod, start, MIRROR_CREATED, f'pod="{pod.namespace}/{pod.mirror_name}"')
    samples = [
        Sample(
            "placed -> mirror visible",
            seconds(config_seen(pod, container), created),
            seconds(start, mirror_seen),
        ),
        Sample("placed -> container running", started_latency(pod, container), seconds(start, running_seen)),
    ]
    return pod, container, samples


def edit(pod: StaticPod, old: ContainerStatus, round_index: int) -> tuple[ContainerStatus, Sample]:
    pod.rewrite(pod.manifest.with_labels(bench_round=str(round_index)))
    new = pod.wait_running(other_than=old)
    seen, start = now(), changed_at(pod)
    return new, Sample("edited -> new container running", started_latency(pod, new), seconds(start, seen))


def delete_mirror(pod: StaticPod, container: ContainerStatus, *, forced: bool) -> Sample:
    """Delete the current pod's mirror (gracefully, or with grace period 0) and time the new one."""
    mirror = pod.wait_for_mirror(
        lambda m: m.metadata.annotations.get(CONFIG_MIRROR_ANNOTATION) == container.pod_uid,
        "of the current pod",
    )
    start = now()
    pod.core.delete_namespaced_pod(
        mirror.metadata.name, mirror.metadata.namespace, grace_period_seconds=0 if forced else None
    )
    pod.wait_for_new_mirror(mirror.metadata.uid)
    seen = now()
    created = first_log(pod, start, MIRROR_CREATED, f'pod="{pod.namespace}/{pod.mirror_name}"')
    name = f"mirror deleted ({'forced' if forced else 'graceful'}) -> new mirror"
    return Sample(name, seconds(start, created), seconds(start, seen))


def restart_kubelet(pod: StaticPod) -> Sample:
    """The new kubelet renews its node lease at once (renewTime: microseconds, its own clock) but posts
    the node's status only when it changed: Ready is waited for as the lease renewed after the
    restart, then the Ready condition True, then the mirror."""
    start = now()
    pod.node.kubelet.restart()
    lease = watch_until(
        k8s.CoordinationV1Api(pod.core.api_client).list_namespaced_lease,
        lambda lease: lease is not None and lease.spec.renew_time > start,
        timeout=NODE_READY_TIMEOUT,
        expected=f"the node lease of {pod.node.name} renewed after the kubelet restart",
        namespace="kube-node-lease",
        field_selector=f"metadata.name={pod.node.name}",
    )
    watch_until(
        pod.core.list_node,
        lambda node: (
            node is not None
            and any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
        ),
        timeout=NODE_READY_TIMEOUT,
        expected=f"node {pod.node.name} Ready",
        field_selector=f"metadata.name={pod.node.name}",
    )
    pod.wait_for_mirror()
    seen = now()
    name = "kubelet restarted -> node Ready, mirror present"
    return Sample(name, seconds(start, lease.spec.renew_time), seconds(start, seen))


def finished_at(pod: StaticPod, container: ContainerStatus) -> datetime | None:
    """The container's finishedAt; None once the kubelet has removed it from the runtime."""
    try:
        return pod.node.crictl.status(container.id).finished_at
    except NodeCommandError:
        return None


def remove(pod: StaticPod, container: ContainerStatus) -> list[Sample]:
    pod.remove_file()
    pod.wait_containers_gone()
    gone = now()
    finished = finished_at(pod, container)
    pod.wait_for_mirror_gone()
    mirror_gone = now()
    start = changed_at(pod)
    cleaned = first_log(pod, start, VOLUMES_CLEANED, f'podUID="{container.pod_uid}"')
    return [
        Sample("removed -> containers gone", seconds(start, finished), seconds(start, gone)),
        Sample("removed -> mirror gone", seconds(start, cleaned), seconds(start, mirror_gone)),
    ]


def one_round(pods: StaticPods, round_index: int) -> list[Sample]:
    pod, container, samples = place(pods)
    container, edited = edit(pod, container, round_index)
    samples.append(edited)
    for forced in (False, True):
        samples.append(delete_mirror(pod, container, forced=forced))
    samples.append(restart_kubelet(pod))
    return samples + remove(pod, container)


def run_rounds(cluster: Cluster, image: str, rounds: int, progress: Callable[[str], None]) -> list[Sample]:
    pods = StaticPods(cluster, image, poll_interval=FAST_NODE_POLL)
    samples: list[Sample] = []
    try:
        for index in range(rounds):
            got = one_round(pods, index)
            progress(f"round {index + 1}/{rounds}: " + ", ".join(f"{s.harness:.2f}" for s in got) + " s")
            samples += got
    finally:
        pods.cleanup()
    return samples


def bench(args: argparse.Namespace) -> None:
    request = ProvisionRequest(
        k8s_version=KubeVersion.parse(args.k8s_version),
        node_image=args.node_image,
        kind_bin=Path(args.kind_bin),
        name=args.cluster_name,
        artifacts_dir=Path(args.artifacts).resolve() / "bench",
        reuse=args.reuse_cluster,
    )
    provisioner = Provisioner(request, docker_client(), on_reuse=repair_parked_api_server)
    on_interrupt(provisioner.abort)
    try:
        cluster = provisioner.ready_cluster(kindconfig.resolve("single-node"))
        about = {
            "kubernetes": cluster.server_version(),
            "node_image": cluster.image,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform(terse=True)}",
            "n": args.n,
            "node_poll_s": FAST_NODE_POLL,
        }
        print(f"bench: {args.n} rounds on {cluster.name} ({about['kubernetes']})", flush=True)
        samples = run_rounds(
            cluster, provisioner.test_image, args.n, lambda line: print(f"  {line}", flush=True)
        )
    finally:
        provisioner.close()
    print(report.table(report.summarize(samples), OVERHEAD_TARGET))
    for path in report.write(Path(args.artifacts), samples, about, OVERHEAD_TARGET):
        print(f"wrote {path}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.tools.bench")
    parser.add_argument("-n", type=cli.rounds("BENCH_N"), default=5, help="rounds (BENCH_N)")
    parser.add_argument("--k8s-version", default=DEFAULT_K8S_VERSION)
    parser.add_argument("--node-image", default="auto")
    parser.add_argument("--kind-bin", default=str(DEFAULT_KIND_BIN))
    parser.add_argument("--cluster-name", default="bench", help="the cluster is <name>-single-node")
    parser.add_argument("--reuse-cluster", metavar="NAME", help="an existing kind cluster (never deleted)")
    parser.add_argument("--artifacts", default="artifacts")
    args = parser.parse_args(argv)
    handle_interrupts()  # the cluster is deleted on SIGTERM as on Ctrl-C
    return cli.run(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
