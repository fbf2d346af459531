import ast
import re
from pathlib import Path

import pytest

from harness import versions
from harness.errors import HarnessError
from harness.versions import DEFAULT_K8S_VERSION, MINORS, Behaviour, KubeVersion

ROOT = Path(__file__).parents[2]


def test_parse_accepts_both_forms_and_pre_releases():
    assert KubeVersion.parse("1.34.4") == KubeVersion.parse("v1.34.4") == KubeVersion(1, 34, 4)
    assert KubeVersion.parse("1.33.13").tag == "v1.33.13"
    assert KubeVersion.parse("1.35.4").staging_tag == "v0.35.4"
    beta = KubeVersion.parse("1.38.0-beta.0")
    assert (beta.tag, beta.staging_tag, str(beta), beta.prerelease) == (
        "v1.38.0-beta.0",
        "v0.38.0-beta.0",
        "1.38.0-beta.0",
        True,
    )
    assert KubeVersion.parse(DEFAULT_K8S_VERSION)


def test_pre_releases_sort_before_their_release_and_after_the_previous_minor():
    order = ["1.37.2", "1.38.0-alpha.1", "1.38.0-beta.0", "1.38.0-rc.0"]
    parsed = [KubeVersion(1, int(v.split(".")[1]), 0, v.split("-")[1]) for v in order[1:]]
    assert sorted([*parsed, KubeVersion.parse(order[0])]) == [KubeVersion.parse(order[0]), *parsed]
    assert KubeVersion(1, 37, 0, "rc.1") < KubeVersion.parse("1.37.0")


@pytest.mark.parametrize(
    "text, message",
    [
        ("1.37", "major.minor.patch, or a pre-release such as 1.38.0-beta.0"),
        ("latest", "major.minor.patch"),
        ("1.38.0-gamma.1", "major.minor.patch"),
        (
            "1.20.1",
            "not supported with kind v0.33.0: use 1.30.x to 1.37.x, and the pre-release 1.38.0-beta.0",
        ),
        ("1.39.0", "not supported with kind v0.33.0: use 1.30.x to 1.37.x"),
        ("1.38.0", "Kubernetes 1.38 has no release yet, only pre-releases: use 1.38.0-beta.0"),
    ],
)
def test_bad_versions_are_one_line_naming_the_supported_ones(text, message):
    with pytest.raises(HarnessError, match=re.escape(message)) as raised:
        KubeVersion.parse(text)
    assert "\n" not in str(raised.value)


def test_the_default_is_the_newest_stable_patch_in_the_table():
    stable = [KubeVersion.parse(m.newest) for m in MINORS if not m.prerelease]
    assert KubeVersion.parse(DEFAULT_K8S_VERSION) == max(stable)
    assert DEFAULT_K8S_VERSION == "1.37.2"


def test_behaviours_hold_from_their_minor_on():
    assert not KubeVersion.parse("1.34.11").has(Behaviour.KEEPS_STATUS_ACROSS_RESTART)
    assert KubeVersion.parse("1.35.8").has(Behaviour.KEEPS_STATUS_ACROSS_RESTART)
    assert KubeVersion.parse("1.38.0-beta.0").has(Behaviour.REBUILDS_INIT_STATUS)
    assert not KubeVersion.parse("1.35.8").has(Behaviour.REBUILDS_INIT_STATUS)
    assert versions.since(Behaviour.POD_GENERATION) == "1.33"
    assert all(any(b in m.changes for m in MINORS) for b in Behaviour), "every behaviour has its minor"


def test_kubeadm_api_and_conformance_defaults_follow_the_table():
    assert {m.minor: m.kubeadm_api for m in MINORS}[35] == "v1beta3"
    assert {m.minor: m.kubeadm_api for m in MINORS}[36] == "v1beta4"
    assert versions.conformance_defaults() == ["1.35.8", "1.36.4", "1.37.2", "1.38.0-beta.0"]
    assert versions.newest_patch(36) == KubeVersion.parse("1.36.4")
    with pytest.raises(HarnessError, match=r"1\.29 is not supported"):
        versions.newest_patch(29)


def test_the_docs_table_has_a_row_for_each_minor():
    rows = [line for line in versions.table().splitlines() if line.startswith("| 1.")]
    assert [row.split(" | ")[1] for row in rows] == [m.newest for m in MINORS]
    docs = ROOT / "docs/versions.md"
    assert versions.table() in docs.read_text(), "docs/versions.md: run `python -m harness.versions doc`"


def test_no_module_compares_minors_but_the_versions_table():
    """The next release is one row: no `.minor >= N` (or <, ==, ...) literal outside harness/versions.py."""
    offenders = []
    for path in [*ROOT.joinpath("harness").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]:
        if (path.name == "versions.py" and path.parent.name == "harness") or path.name == "test_versions.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Compare)
                and any(isinstance(c, ast.Constant) and isinstance(c.value, int) for c in node.comparators)
                and re.search(r"(^|\.)minor\b", ast.unparse(node.left))
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []
