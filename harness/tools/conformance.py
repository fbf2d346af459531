"""Conformance runs: the behaviour catalogue on several Kubernetes versions, then one report.

    python -m harness.tools.conformance matrix --artifacts DIR VERSION... [-- PYTEST_ARGS...]
    python -m harness.tools.conformance version --result-dir DIR VERSION [-- PYTEST_ARGS...]

(make conformance, make conformance-version). The pytest arguments come after `--`, each its own
argument as the shell split them (as `make e2e` passes PYTEST_ARGS), so no word of a -k expression
is ever taken for a version; every version is checked before anything runs.

Each version runs on its own node image and clusters, one after another (a 2-core machine holds
one suite at a time), into its result directory; `matrix` ends by merging the result directories
(harness.reports.conformance). What a result directory holds, what a version that did not run
leaves, and the exit status: docs/conformance.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from harness import cli
from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.interrupts import handle_interrupts
from harness.nodeimage.choose import choose_node_image
from harness.paths import DEFAULT_KIND_BIN, PROJECT_ROOT
from harness.reports import conformance
from harness.reports.runfile import write_run
from harness.tools.suite import pytest_command, run_suite
from harness.versions import KubeVersion

# pytest's exit codes for a run that did not run its tests to the end (interrupted, internal
# error, usage error, no tests collected).
_NO_RESULTS = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}
# What a version's run came to, besides every test passing.
DID_NOT_RUN, TESTS_FAILED = "did not run", "tests failed"


def run_version(
    version: str, result_dir: Path, node_image: str, kind_bin: Path, extra: list[str]
) -> tuple[float, str | None]:
    """The suite on `version` into `result_dir`: its seconds, and DID_NOT_RUN, TESTS_FAILED or None."""
    start = time.monotonic()
    result_dir.mkdir(parents=True, exist_ok=True)
    (result_dir / "run.json").unlink(missing_ok=True)  # an earlier run's must not stand for this one
    try:
        image = choose_node_image(node_image, KubeVersion.parse(version), docker_client())
    except Exception as exc:  # a red column, whatever broke; KeyboardInterrupt still ends the matrix
        why = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
        _failed(version, result_dir, f"node image: {why}", time.monotonic() - start)
        return time.monotonic() - start, DID_NOT_RUN
    command = pytest_command(
        result_dir, str(PROJECT_ROOT / "tests" / "e2e"),
        f"--sph-k8s-version={version}", f"--sph-node-image={image}", f"--sph-kind-bin={kind_bin}", *extra,
    )  # fmt: skip
    print(f"[conformance] {version}: {' '.join(command[3:])}", flush=True)
    code = run_suite(command)
    seconds = time.monotonic() - start
    if code in _NO_RESULTS or not (result_dir / "run.json").exists():
        why = _NO_RESULTS.get(code, "no run.json")
        _failed(version, result_dir, f"pytest ended with exit code {code} ({why})", seconds)
    if json.loads((result_dir / "run.json").read_text()).get("status") != "ran":
        return seconds, DID_NOT_RUN
    return seconds, TESTS_FAILED if code else None


def _failed(version: str, result_dir: Path, reason: str, seconds: float) -> None:
    """run.json for a version that produced no results: a red column with its reason."""
    reason = next(iter(reason.strip().splitlines()), "")  # one line, whatever the exception said
    print(f"[conformance] {version}: failed: {reason}", file=sys.stderr, flush=True)
    write_run(result_dir, requested=version, status=f"failed: {reason}", partial=True, seconds=seconds)


def _check(outcomes: dict[str, str | None], where: Path) -> None:
    """A HarnessError, once everything is written, when a version did not run or had failing tests."""
    tests_failed = [v for v, outcome in outcomes.items() if outcome == TESTS_FAILED]
    did_not_run = [v for v, outcome in outcomes.items() if outcome == DID_NOT_RUN]
    problems = [f"tests failed on {', '.join(tests_failed)}"] if tests_failed else []
    problems += [f"{', '.join(did_not_run)} did not run"] if did_not_run else []
    if problems:
        raise HarnessError(f"{'; '.join(problems)}: see {where}")


def matrix(versions: list[str], artifacts: Path, node_image: str, kind_bin: Path, extra: list[str]) -> None:
    runs = {v: run_version(v, artifacts / v, node_image, kind_bin, extra) for v in versions}
    print("[conformance] wall time per version:")
    for version, (seconds, _) in runs.items():
        print(f"  {version:<12} {seconds / 60:6.1f} min")
    print(f"  {'total':<12} {sum(seconds for seconds, _ in runs.values()) / 60:6.1f} min", flush=True)
    if conformance.main(["--out", str(artifacts), *(str(artifacts / v) for v in versions)]):
        raise HarnessError("the conformance report could not be written (see the line above)")
    _check({v: outcome for v, (_, outcome) in runs.items()}, artifacts / "conformance.html")


def check_versions(versions: list[str]) -> None:
    """Every version is a supported Kubernetes release, and none is named twice (they would share
    a result directory): a HarnessError naming the first bad word, before anything runs."""
    for version in versions:
        KubeVersion.parse(version)
    twice = sorted({v for v in versions if versions.count(v) > 1})
    if twice:
        raise HarnessError(f"versions named more than once: {', '.join(twice)}")


def main(argv: list[str]) -> int:
    split = argv.index("--") if "--" in argv else len(argv)
    argv, extra = argv[:split], argv[split + 1 :]  # after "--": the pytest arguments, untouched
    parser = argparse.ArgumentParser(
        prog="python -m harness.tools.conformance", epilog="-- then more pytest arguments (PYTEST_ARGS)"
    )
    parser.add_argument("mode", choices=("matrix", "version"))
    parser.add_argument("versions", nargs="+", metavar="VERSION")
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"), help="matrix: DIR/<version>/")
    parser.add_argument("--result-dir", type=Path, help="version: the one result directory")
    parser.add_argument("--node-image", default="auto")
    parser.add_argument("--kind-bin", type=Path, default=DEFAULT_KIND_BIN)
    args = parser.parse_args(argv)
    if args.mode == "version" and (len(args.versions) != 1 or args.result_dir is None):
        parser.error("version takes one VERSION and --result-dir")
    if cli.run(lambda: check_versions(args.versions)):
        return 1
    handle_interrupts()
    if args.mode == "matrix":
        return cli.run(lambda: matrix(args.versions, args.artifacts, args.node_image, args.kind_bin, extra))

    def one() -> None:
        version = args.versions[0]
        _, outcome = run_version(version, args.result_dir, args.node_image, args.kind_bin, extra)
        _check({version: outcome}, args.result_dir)

    return cli.run(one)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
