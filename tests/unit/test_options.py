"""The plugin's options: --sph-<name> on the command line, sph_<name> in the ini file, the old names
as deprecated aliases, no clash with pytest-kubernetes, and pytest-kind's kind_cluster answered by
the harness's cluster. Inner runs only read settings: no cluster is made."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from harness.errors import HarnessError
from harness.plugin.options import OPTIONS, skewed_kubelet
from harness.versions import KubeVersion

SHOWS_SETTINGS = """
def test_settings(static_pod_settings):
    s = static_pod_settings
    print(f"SETTINGS {s.k8s_version} {s.node_image} {s.cluster_name} {s.keep_cluster} {s.artifacts_dir.name}")
"""
# Stands in for pytest-kubernetes: it registers --k8s-version (dest k8s_version) of its own.
K8S_STUB = """
def pytest_addoption(parser):
    parser.getgroup("k8s").addoption("--k8s-version", help="pytest-kubernetes' own")

def pytest_configure(config):
    print(f"STUB k8s_version={config.getoption('k8s_version')}")
"""


def settings_line(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    return next(line for line in result.outlines if "SETTINGS " in line).split("SETTINGS ", 1)[1]


def test_the_command_line_wins_over_the_ini_file_which_wins_over_the_default(pytester, kind_bin):
    pytester.makepyfile(test_settings=SHOWS_SETTINGS)
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        sph_node_image = "offline"
        sph_keep_cluster = true
        sph_artifacts_dir = "from-ini"
        sph_k8s_version = "1.33.13"
        """
    )
    result = pytester.runpytest_inprocess(
        "-s", "-p", "no:cacheprovider", kind_bin, "--sph-node-image=official"
    )
    assert settings_line(result) == "1.33.13 official static-pods True from-ini"


def test_artifacts_from_the_ci_environment_win_over_the_ini_file(pytester, kind_bin, monkeypatch):
    monkeypatch.setenv("ARTIFACTS", str(pytester.path / "from-ci"))
    pytester.makepyfile(test_settings=SHOWS_SETTINGS)
    pytester.makeini("[pytest]\nsph_artifacts_dir = from-ini\n")
    result = pytester.runpytest_inprocess("-s", "-p", "no:cacheprovider", kind_bin)
    assert settings_line(result).endswith(" from-ci")


def test_an_old_name_still_works_and_warns_that_it_goes(pytester, kind_bin):
    pytester.makepyfile(test_settings=SHOWS_SETTINGS)
    result = pytester.runpytest_inprocess("-s", "-p", "no:cacheprovider", kind_bin, "--node-image=offline")
    assert settings_line(result).split()[1] == "offline"
    result.stdout.fnmatch_lines(
        ["*PytestDeprecationWarning: --node-image is deprecated and goes in the next release: use --sph-*"]
    )


def test_without_pytest_kind_its_option_names_are_deprecated_aliases(pytester, kind_bin):
    pytester.makepyfile(test_settings=SHOWS_SETTINGS)
    result = pytester.runpytest_subprocess(
        "-s",
        "-p",
        "no:pytest-kind",
        "-p",
        "no:cacheprovider",
        kind_bin,
        "--cluster-name=mine",
        "--keep-cluster",
    )
    assert settings_line(result).split()[2:4] == ["mine", "True"]
    result.stdout.fnmatch_lines(["*--cluster-name is deprecated*", "*--keep-cluster is deprecated*"])


def test_with_pytest_kind_its_own_options_are_honoured_without_a_warning(pytester, kind_bin):
    pytester.makepyfile(test_settings=SHOWS_SETTINGS)
    result = pytester.runpytest_inprocess(
        "-s", "-p", "no:cacheprovider", kind_bin, "--cluster-name=mine", "--keep-cluster"
    )
    assert settings_line(result).split()[2:4] == ["mine", "True"]
    assert "deprecated" not in result.stdout.str()


def test_every_option_has_an_ini_setting(pytester):
    help_text = pytester.runpytest_inprocess("--help").stdout.str()
    for option in OPTIONS:
        assert re.search(rf"^  {option.flag}\b", help_text, re.MULTILINE), option.flag
        assert f"  {option.dest} (" in help_text, option.dest


@pytest.mark.parametrize("loaded", ["before the harness", "after the harness"])
def test_a_plugin_that_owns_an_old_name_keeps_it(pytester, kind_bin, loaded):
    """pytest-kubernetes registers --k8s-version: the harness leaves that name to it, whichever loads
    first, and pytest starts with both; the harness reads its own --sph-k8s-version."""
    pytester.makepyfile(test_settings=SHOWS_SETTINGS, k8s_stub=K8S_STUB)
    args = ["-s", "-p", "no:cacheprovider", kind_bin, "--k8s-version=theirs", "--sph-k8s-version=1.33.13"]
    if loaded == "before the harness":
        args = ["-p", "k8s_stub", *args]
    else:  # a plugin the first conftest loads: after every entry point, the harness included
        pytester.makeconftest('pytest_plugins = ["k8s_stub"]\n')
    result = pytester.runpytest_subprocess(*args)
    assert settings_line(result).split()[0] == "1.33.13"
    result.stdout.fnmatch_lines(["STUB k8s_version=theirs"])
    assert "deprecated" not in result.stdout.str()


def test_pytest_kubernetes_installed_beside_the_harness_starts(pytester, kind_bin, tmp_path):
    """The real pytest-kubernetes, installed into a directory on the inner run's path (its pytest11
    entry point loads from there): both plugins' options work in one run."""
    target = tmp_path / "site"
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            "pytest-kubernetes",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if installed.returncode != 0:
        pytest.skip(
            f"pytest-kubernetes could not be installed (no package index?): {installed.stderr[-300:]}"
        )
    pytester.makepyfile(test_settings=SHOWS_SETTINGS)
    pytester.makeconftest(
        "def pytest_configure(config):\n    print('THEIRS', config.getoption('k8s_version'))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-s",
            "-p",
            "no:cacheprovider",
            kind_bin,
            "--k8s-version=1.31.0",
            "--sph-k8s-version=1.33.13",
            "test_settings.py",
        ],
        cwd=pytester.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^plugins: .*kubernetes-", result.stdout, re.MULTILINE), result.stdout  # it loaded
    assert "THEIRS 1.31.0" in result.stdout
    assert "SETTINGS 1.33.13 " in result.stdout, result.stdout


def test_pytest_kinds_kind_cluster_is_the_harness_cluster(pytester):
    """A test asking for pytest-kind's fixture gets the harness's cluster's handle, not a second cluster
    (pytest-kind's own fixture would try to make one here and fail)."""
    pytester.makeconftest(
        """
        import pytest
        from types import SimpleNamespace

        @pytest.fixture(scope="session")
        def kind_cluster_session():
            return SimpleNamespace(kind="the harness's handle")
        """
    )
    pytester.makepyfile(
        test_kind='def test_x(kind_cluster):\n    assert kind_cluster == "the harness\'s handle"\n'
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "kubelet, control_plane, refused",
    [
        ("1.34.11", "1.37.2", False),
        ("1.37.0", "1.37.2", False),
        ("1.37.2", "1.37.2", True),
        ("1.38.0-beta.0", "1.37.2", True),
        ("1.33.13", "1.37.2", True),
    ],
)
def test_a_skewed_kubelet_is_one_the_control_plane_supports(kubelet, control_plane, refused):
    if not refused:
        assert skewed_kubelet(
            KubeVersion.parse(kubelet), KubeVersion.parse(control_plane)
        ) == KubeVersion.parse(kubelet)
        return
    with pytest.raises(HarnessError) as raised:
        skewed_kubelet(KubeVersion.parse(kubelet), KubeVersion.parse(control_plane))
    assert str(raised.value) == (
        f"--sph-kubelet-version={kubelet} with the control plane at {control_plane}: a kubelet is older "
        "than the API server by at most 3 minors (version-skew policy); use a release from 1.34.x, older "
        "than 1.37.2"
    )
