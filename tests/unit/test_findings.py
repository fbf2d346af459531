import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.reports.findings import main

DATA = Path(__file__).parent / "data/conformance"
VERSIONS = ("1.33.13", "1.34.4", "1.35.4")
SECRETS = "test_pod_that_refers_to_api_objects_never_gets_a_mirror[secrets]"
FORCED = "test_deleted_mirror_pod_comes_back_while_the_container_keeps_running[forced]"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """The recorded result directories, copied so that a test can add what a run would record."""
    for version in VERSIONS:
        shutil.copytree(DATA / version, tmp_path / version)
    return tmp_path


def findings(directories: list[Path], out: Path) -> str:
    assert main(["--out", str(out), *map(str, directories)]) == 0
    return out.read_text()


def section(page: str, version: str) -> str:
    return page.split(f"## Kubernetes {version}\n")[1].split("\n## ")[0]


def observe(directory: Path, test: str, text: str) -> None:
    """Add an "observed" property to a test of directory/junit.xml, as record_observation does."""
    tree = ET.parse(directory / "junit.xml")
    case = next(c for c in tree.getroot().iter("testcase") if c.get("name") == test)
    ET.SubElement(case.find("properties"), "property", name="observed", value=text)
    tree.write(directory / "junit.xml", encoding="utf-8", xml_declaration=True)


def test_the_page_names_its_runs_and_gives_each_version_its_verdicts(tmp_path):
    page = findings([DATA / v for v in VERSIONS], tmp_path / "findings.md")

    for version in VERSIONS:
        assert f"| `{(DATA / version).as_posix()}` | {version} |" in page
    first, second = section(page, "1.33.13"), section(page, "1.34.4")
    assert "| **refuted** |" in first and "S8: When the API side updates a mirror pod" in first
    assert (
        "| S14: kubectl delete/edit of a mirror pod is undone: the kubelet recreates it. | **partly** |"
        in first
    )
    s14 = next(line for line in second.splitlines() if line.startswith("| S14:"))
    assert "**inconclusive**" in s14 and f"{FORCED} failed: AssertionError: no new mirror pod" in s14
    assert section(page, "1.35.4").strip() == (
        "Did not run (failed: node image did not build: kubelet: go build exited with status 1): "
        "nothing was recorded."
    )


def test_a_sentence_appears_only_where_a_passing_test_recorded_it(results, tmp_path):
    """No test in the recordings observed anything, so the page says nothing beyond verdicts; an
    observation recorded on 1.34.4 shows under 1.34.4 only, and a failed test's does not show."""
    plain = findings([results / v for v in VERSIONS], tmp_path / "plain.md")
    assert plain.count("No passing test recorded an observation.") == 2
    s8 = "| S8: When the API side updates a mirror pod, the kubelet immediately changes it back."
    assert f"{s8} | **refuted** |  |" in plain  # no evidence recorded, none written

    observe(results / "1.34.4", SECRETS, "the kubelet refuses the file")
    observe(results / "1.34.4", FORCED, "the mirror came back")  # a failed test: not a finding
    claims = json.loads((results / "1.34.4/claims.json").read_text())
    s8 = next(row for row in claims["claims"] if row["claim"] == "S8")
    s8["evidence"] = ["the kubelet compares only its config.mirror hash"]
    (results / "1.34.4/claims.json").write_text(json.dumps(claims))
    page = findings([results / v for v in VERSIONS], tmp_path / "findings.md")

    second = section(page, "1.34.4")
    assert f"| `tests/e2e/test_api_references.py::{SECRETS}` | the kubelet refuses the file |" in second
    assert "**refuted** | the kubelet compares only its config.mirror hash |" in second
    assert "the kubelet refuses the file" not in section(page, "1.33.13")
    assert "compares only" not in section(page, "1.33.13")
    assert "the mirror came back" not in page


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "findings.md")]) == 1
    assert capsys.readouterr().err == (
        'error: no result directories: make findings ARTIFACTS_FROM="results/1.34.4 ..."\n'
    )
    assert main(["--out", str(tmp_path / "findings.md"), str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path} is not a result directory: no run.json\n"
    assert not (tmp_path / "findings.md").exists()
