"""`make speed`: the speed targets, measured one right after the other on this machine, printed.

    python -m harness.tools.speed --artifacts DIR --node-image IMAGE [--jobs N] [--steps ...]

Steps (all by default, in this order):
- creation: a plain `kind create cluster` and the harness's creation (the same kind create, then
  routes between the nodes' pod ranges where the image has no CNI daemon, then every node Ready),
  same image and rendered kind config, alternately ROUNDS times. Target: harness median <= 1.05 x
  plain median. Also shown: plain kind until its nodes are Ready (kind returns before).
- suite: the whole e2e suite serially (one process), then in parallel (`-n JOBS`), the same commit,
  each on fresh clusters. Target: parallel <= 40 % of serial, by a run that passed (a failed run
  may just have ended early, so its time proves nothing). The two runs' claim verdicts are
  compared: speed must not change what the suite finds.
- warm: a developer's quick loop: the behaviour tests of the run's kind config that neither disrupt
  the node nor take over a minute (`-m "not harness and not disruptive and not slow"`), serially
  against a cluster made (and the test image loaded) beforehand, untimed. Target: wall time minus the
  deliberate waits the tests recorded (grace periods, periodic syncs, re-lists, hold windows;
  harness.waiting.deliberate) <= 4 min; the deliberate seconds are printed beside it.

Everything lands in DIR (speed.md, speed.json, and each run's directory). Clusters made here are
deleted at the end, and on Ctrl-C or SIGTERM first of all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness import cli
from harness.cluster import kindconfig
from harness.cluster.cluster import Cluster
from harness.cluster.hostfacts import HostFacts
from harness.cluster.kind import Kind
from harness.cluster.lifecycle import (
    NODE_READY_TIMEOUT,
    create_cluster,
    delete_cluster,
    kind_network_exists,
    node_ready,
    remove_kind_network,
)
from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.interrupts import handle_interrupts, on_interrupt, signals_held
from harness.paths import DEFAULT_KIND_BIN, PROJECT_ROOT
from harness.provision import leftovers
from harness.provision.nodeimages import resolve_node_image
from harness.provision.provisioner import Provisioner, ProvisionRequest
from harness.tools.suite import pytest_command, run_suite
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion
from harness.waiting import DELIBERATE_WAIT, poll_until

STEPS = ("creation", "suite", "warm")
CREATION_RATIO, PARALLEL_SHARE, WARM_BUDGET = 1.05, 0.40, 240.0
WARM_SUBSET = "not harness and not disruptive and not slow"


@dataclass
class Figure:
    measure: str
    value: str
    target: str
    met: bool | None  # None: a figure shown for context, no target of its own

    def row(self) -> str:
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return f"| {self.measure} | {self.value} | {self.target} | {met} |"


def _timed_kind_create(
    kind: Kind, name: str, image: str, config_file: Path, kubeconfig: Path, nodes: int
) -> tuple[float, float]:
    """A plain `kind create cluster`, timed: until kind returns, and until every node is Ready (what
    the harness waits for). Then deleted (untimed)."""
    leftovers.record(name)
    start = time.monotonic()
    try:
        subprocess.run(
            [str(kind.binary), "create", "cluster", f"--name={name}", f"--image={image}",
             f"--config={config_file}", f"--kubeconfig={kubeconfig}"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        created = time.monotonic() - start
        core = Cluster(name, kind.handle(name, kubeconfig, image), docker_client(), image).core
        poll_until(
            lambda: len([n for n in core.list_node().items if node_ready(n)]) == nodes,
            timeout=NODE_READY_TIMEOUT,
            interval=0.1,
            expected=f"every node of {name} Ready",
        )
        return created, time.monotonic() - start
    except subprocess.CalledProcessError as exc:
        raise HarnessError(f"kind create cluster {name} failed: {exc.stderr.strip()[-300:]}") from None
    finally:
        with signals_held(f"deleting {name}"):
            subprocess.run([str(kind.binary), "delete", "cluster", f"--name={name}"], capture_output=True)
            leftovers.forget(name)


def creation(args: argparse.Namespace, work: Path) -> list[Figure]:
    client, kind = docker_client(), Kind(args.kind_bin)
    image = resolve_node_image(args.node_image, KubeVersion.parse(args.k8s_version), client)
    kind_config = kindconfig.resolve(args.kind_config)
    config = kindconfig.render(
        kindconfig.load(kind_config),
        version=KubeVersion.parse(args.k8s_version),
        host=HostFacts.read(),
        offline_image=image.offline,
    )
    network_existed = kind_network_exists(client)  # the first plain `kind create` makes it
    config_file = work / "kind-config.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))  # as create_cluster writes it
    plain, ready, harness = [], [], []
    for round_index in range(args.rounds):
        print(f"[speed] creation round {round_index + 1}: plain kind", flush=True)
        kubeconfig, nodes = work / "plain.kubeconfig", kindconfig.node_count(config)
        created, until_ready = _timed_kind_create(
            kind, "speed-plain", image.reference, config_file, kubeconfig, nodes
        )
        plain.append(created)
        ready.append(until_ready)
        print(f"[speed] creation round {round_index + 1}: the harness", flush=True)
        leftovers.record("speed-harness")
        start = time.monotonic()
        cluster = create_cluster(
            kind, "speed-harness", image.reference, config, work / "harness-kind-config.yaml",
            work / "harness.kubeconfig", client, offline_image=image.offline,
        )  # fmt: skip
        try:
            harness.append(time.monotonic() - start)
        finally:
            delete_cluster(cluster)
            leftovers.forget("speed-harness")
        print(
            f"[speed]   plain {plain[-1]:.1f} s (nodes Ready at {ready[-1]:.1f} s), "
            f"harness {harness[-1]:.1f} s",
            flush=True,
        )
    if not network_existed:
        remove_kind_network(client)
    ratio = statistics.median(harness) / statistics.median(plain)
    usable = statistics.median(harness) / statistics.median(ready)
    return [
        Figure(
            f"cluster creation, {kind_config.stem}, median of {args.rounds}",
            f"plain kind {statistics.median(plain):.1f} s, harness {statistics.median(harness):.1f} s: "
            f"{ratio:.2f}x",
            f"<= {CREATION_RATIO}x",
            ratio <= CREATION_RATIO,
        ),
        Figure(
            "... against plain kind until every node is Ready",
            f"{statistics.median(ready):.1f} s: harness {usable:.2f}x",
            "",
            None,
        ),
    ]


def _suite(args: argparse.Namespace, directory: Path, *extra: str) -> tuple[float, int]:
    directory.mkdir(parents=True, exist_ok=True)
    command = pytest_command(
        directory, str(PROJECT_ROOT / "tests" / "e2e"),
        f"--sph-k8s-version={args.k8s_version}", f"--sph-node-image={args.node_image}",
        f"--sph-kind-config={args.kind_config}", f"--sph-kind-bin={args.kind_bin}", *extra,
    )  # fmt: skip
    print(f"[speed] {' '.join(command[3:])}", flush=True)
    start = time.monotonic()
    code = run_suite(command)
    return time.monotonic() - start, code


def _verdicts(directory: Path) -> dict[str, str]:
    path = directory / "claims.json"
    if not path.is_file():
        raise HarnessError(f"{directory} has no claims.json: the run ended without results")
    return {row["claim"]: row["verdict"] for row in json.loads(path.read_text())["claims"]}


def suite(args: argparse.Namespace, out: Path) -> list[Figure]:
    serial, serial_code = _suite(args, out / "serial")
    parallel, parallel_code = _suite(args, out / "parallel", "-n", str(args.jobs))
    share = parallel / serial
    before, after = _verdicts(out / "serial"), _verdicts(out / "parallel")
    changed = [f"{c}: {before.get(c)} -> {after.get(c)}" for c in sorted(before.keys() | after.keys())
               if before.get(c) != after.get(c)]  # fmt: skip
    return [
        Figure("full suite, serial", f"{serial / 60:.1f} min (pytest exit {serial_code})", "", None),
        Figure(
            f"full suite, parallel (-n {args.jobs})",
            f"{parallel / 60:.1f} min (pytest exit {parallel_code}): {share:.0%} of serial",
            f"<= {PARALLEL_SHARE:.0%} of serial",
            share <= PARALLEL_SHARE and parallel_code == 0,
        ),
        Figure(
            "claim verdicts, serial vs parallel",
            "the same" if not changed else "; ".join(changed),
            "the same",
            not changed and serial_code == parallel_code == 0,
        ),
    ]


def _recorded_deliberate(junit: Path) -> float:
    """The deliberate seconds the tests in `junit` recorded (harness.waiting.DELIBERATE_WAIT)."""
    root = ET.parse(junit).getroot()
    return sum(float(p.get("value", "0")) for p in root.iter("property") if p.get("name") == DELIBERATE_WAIT)


def warm(args: argparse.Namespace, out: Path) -> list[Figure]:
    request = ProvisionRequest(
        k8s_version=KubeVersion.parse(args.k8s_version),
        node_image=args.node_image,
        kind_bin=args.kind_bin,
        name="speed-warm",
        artifacts_dir=out / "warm-cluster",
    )
    provisioner = Provisioner(request, docker_client())
    on_interrupt(provisioner.abort)
    try:
        cluster = provisioner.ready_cluster(kindconfig.resolve(args.kind_config))
        wall, code = _suite(args, out / "warm", f"--sph-reuse-cluster={cluster.name}", "-m", WARM_SUBSET)
    finally:
        provisioner.close()
    deliberate = _recorded_deliberate(out / "warm" / "junit.xml")
    own = wall - deliberate
    return [
        Figure(
            f"quick behaviour tests ({WARM_SUBSET}) on a warm {args.kind_config} cluster, serial",
            f"{wall / 60:.1f} min, of which deliberate waits {deliberate / 60:.1f} min: "
            f"{own / 60:.1f} min without them (pytest exit {code})",
            f"<= {WARM_BUDGET / 60:.0f} min without them",
            own <= WARM_BUDGET and code == 0,
        )
    ]


def write(out: Path, figures: list[Figure], machine: str) -> str:
    lines = [
        f"# Speed targets ({machine})",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        *(f.row() for f in figures),
    ]
    text = "\n".join(lines) + "\n"
    (out / "speed.md").write_text(text)
    (out / "speed.json").write_text(
        json.dumps({"machine": machine, "figures": [f.__dict__ for f in figures]}, indent=2) + "\n"
    )
    return text


def speed(args: argparse.Namespace) -> None:
    out = args.artifacts.resolve()
    out.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="static-pod-harness-speed-") as work:
        for step in args.steps:
            figures += {"creation": lambda: creation(args, Path(work)), "suite": lambda: suite(args, out),
                        "warm": lambda: warm(args, out)}[step]()  # fmt: skip
            write(out, figures, _machine())
    print(write(out, figures, _machine()), flush=True)


def _machine() -> str:
    cores = len(os.sched_getaffinity(0))
    memory = next(
        int(line.split()[1]) // 1024**2
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return f"{cores} cores, {memory} GiB"


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 2:
        raise argparse.ArgumentTypeError(f"JOBS must be 2 or more workers for the parallel run, not {text!r}")
    return int(text)


def _steps(text: str) -> list[str]:
    steps = [s for s in text.split(",") if s]
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise argparse.ArgumentTypeError(f"SPEED_STEPS takes {','.join(STEPS)} (any of them), not {text!r}")
    return steps


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.tools.speed")
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts/speed"))
    parser.add_argument("--k8s-version", default=DEFAULT_K8S_VERSION)
    parser.add_argument("--node-image", default="auto")
    parser.add_argument("--kind-config", default="single-node")
    parser.add_argument("--kind-bin", type=Path, default=DEFAULT_KIND_BIN)
    parser.add_argument("--jobs", type=_jobs, default=4, help="workers of the parallel suite run (JOBS)")
    parser.add_argument(
        "--rounds", type=cli.rounds("--rounds"), default=3, help="cluster creations of each kind"
    )
    parser.add_argument("--steps", type=_steps, default=list(STEPS), help=",".join(STEPS))
    args = parser.parse_args(argv)
    handle_interrupts()
    return cli.run(lambda: speed(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
