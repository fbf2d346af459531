import json
import re
import shutil
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.reports.conformance import NOT_RUN, Cell, load, main, merge, render_html, write

DATA = Path(__file__).parent / "data/conformance"
FORCED = (
    "tests/e2e/test_mirror_pod.py::"
    "test_deleted_mirror_pod_comes_back_while_the_container_keeps_running[forced]"
)
FORCED_DIR = (
    "diagnostics/"
    "tests_e2e_test_mirror_pod.py_test_deleted_mirror_pod_comes_back_while_the_container_keeps_running_forced"
)
MISSING_NS = (
    "tests/e2e/test_api_references.py::"
    "test_pod_in_a_missing_namespace_runs_and_gets_its_mirror_once_the_namespace_exists"
)
JSON_MANIFEST = "tests/e2e/test_file_rules.py::test_json_manifest_runs"
REFS = "tests/e2e/test_api_references.py::test_pod_that_refers_to_api_objects_never_gets_a_mirror[{}]"
VERSIONS = ("1.33.13", "1.34.4", "1.35.4")


@pytest.fixture(autouse=True)
def no_step_summary(monkeypatch):
    """A CI job's own summary is not written by these tests (unless one sets it)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """The recorded result directories, copied where the reports can be written next to them."""
    for version in VERSIONS:
        shutil.copytree(DATA / version, tmp_path / version)
    return tmp_path


def test_load_reads_the_run_the_outcomes_the_verdicts_and_the_diagnostics():
    result = load(DATA / "1.34.4")
    assert (result.label, result.kubernetes, result.kubelets) == ("1.34.4", ("v1.34.4",), ("v1.34.4",))
    assert (result.kind, result.node_image, result.status) == (
        "v0.30.0",
        "static-pod-harness/node:v1.34.4",
        "ran",
    )
    assert result.seconds == 318.7 and not result.failed and not result.partial
    assert result.tests[REFS.format("secrets")] == Cell("passed")
    forced = result.tests[FORCED]
    assert forced.result == "failed" and forced.message.startswith("AssertionError: no new mirror pod")
    assert forced.diagnostics == DATA / "1.34.4" / FORCED_DIR
    assert result.tests[
        "tests/e2e/test_harness_interrupt.py::test_ctrl_c_deletes_the_cluster_first[twice]"
    ] == Cell("skipped", "a second Ctrl-C needs a terminal; run it with -s")
    assert len(result.claims) == 21 and result.claims["S8"] == Cell("refuted")
    assert result.claims["S14"].result == "inconclusive" and FORCED in result.claims["S14"].message

    older = load(DATA / "1.33.13")
    assert older.tests[JSON_MANIFEST].result == "error" and older.tests[JSON_MANIFEST].diagnostics is None
    assert older.deselected == {MISSING_NS: "deselected by -k/-m"}


def test_a_failed_version_has_its_reason_and_no_results():
    result = load(DATA / "1.35.4")
    assert result.failed and result.status.startswith("failed: node image did not build")
    assert result.tests == {} and result.claims == {} and result.kubernetes == ()


def test_merge_sorts_versions_groups_tests_by_area_and_fills_in_not_run():
    matrix = merge([load(DATA / v) for v in ("1.35.4", "1.34.4", "1.33.13")])
    assert [c.label for c in matrix.columns] == ["1.33.13", "1.34.4", "1.35.4"]
    assert [r.key for r in matrix.claims] == [f"S{n}" for n in range(1, 22)]
    areas = [r.area for r in matrix.behaviours]
    assert list(dict.fromkeys(areas)) == ["api_references", "file_rules", "harness_interrupt", "mirror_pod"]
    assert len(areas) == 11  # every test seen in any column; parametrized ids are rows of their own
    rows = {r.key: r for r in matrix.behaviours}
    assert REFS.format("serviceaccounts") in rows and REFS.format("secrets") in rows
    assert [c.result for c in rows[REFS.format("secrets")].cells] == ["passed", "passed", NOT_RUN]
    assert rows[MISSING_NS].cells[0] == Cell(NOT_RUN, "deselected by -k/-m")
    assert rows[FORCED].text == "deleted mirror pod comes back while the container keeps running [forced]"
    assert all(c == Cell(NOT_RUN) for r in (*matrix.claims, *matrix.behaviours) for c in r.cells[2:])


def test_differences_are_exactly_the_rows_not_the_same_in_every_column():
    matrix = merge([load(DATA / "1.33.13"), load(DATA / "1.34.4")])
    assert [r.key for r in matrix.differences] == ["S14", MISSING_NS, JSON_MANIFEST, FORCED]
    assert [c.result for c in matrix.differences[0].cells] == ["partly", "inconclusive"]


def test_a_failed_column_is_red_with_its_reason_and_makes_every_row_differ(results):
    matrix = merge([load(results / v) for v in VERSIONS])
    assert len(matrix.differences) == len(matrix.claims) + len(matrix.behaviours) == 32
    paths = write(matrix, results)
    reason = "failed: node image did not build: kubelet: go build exited with status 1"
    page = paths["html"].read_text()
    assert re.search(rf'<tr class="failed"><th>1\.35\.4</th>.*<td>{reason}</td><td>0\.7 min</td></tr>', page)
    assert '<th class="version failed">1.35.4</th>' in page
    assert '<th colspan="4">Differ between the versions that ran</th>' in page
    assert '<th colspan="4">The same on the versions that ran; 1.35.4 did not run</th>' in page
    text = paths["md"].read_text()
    assert f"| 1.35.4 | — | — | v0.30.0 | — | {reason} | 0.7 min |" in text
    assert f'**1.35.4 did not run ({reason}): all its cells are "not run".**' in text


def test_failed_cells_link_to_their_diagnostics_relative_to_the_report(results):
    paths = write(merge([load(results / v) for v in VERSIONS]), results)
    link = f"1.34.4/{FORCED_DIR}"
    assert f'<a href="{link}">failed</a>' in paths["html"].read_text()
    assert f"[failed]({link}): AssertionError" in paths["md"].read_text()
    report = json.loads(paths["json"].read_text())
    cells = {r["key"]: r["cells"] for r in report["behaviours"]}
    assert cells[FORCED]["1.34.4"]["diagnostics"] == link
    assert cells[JSON_MANIFEST]["1.33.13"] == {
        "result": "error",
        "message": 'failed on setup with "TimeoutError: node static-pods-single-node-control-plane: '
        'no answer from containerd within 30 s"',
        "observed": "",
        "diagnostics": None,
    }
    hrefs = re.findall(r'href="([^"]*)"', paths["html"].read_text())
    assert hrefs == [link, link] and (results / link).is_dir()  # in the difference and behaviour tables


def test_the_same_directories_copied_elsewhere_give_the_identical_report(results, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("other-machine") / "downloaded"
    shutil.copytree(results, elsewhere)
    first = write(merge([load(results / v) for v in VERSIONS]), results / "report")
    second = write(merge([load(elsewhere / v) for v in reversed(VERSIONS)]), elsewhere / "report")
    for ext in ("json", "md", "html"):
        assert first[ext].read_text() == second[ext].read_text()
    report = json.loads(first["json"].read_text())
    assert [v["directory"] for v in report["versions"]] == [f"../{v}" for v in VERSIONS]
    assert report["versions"][1] == {
        "version": "1.34.4",
        "directory": "../1.34.4",
        "kubernetes": ["v1.34.4"],
        "kubelets": ["v1.34.4"],
        "kind": "v0.30.0",
        "node_image": "static-pod-harness/node:v1.34.4",
        "status": "ran",
        "partial": False,
        "seconds": 318.7,
    }
    assert (
        len(report["differences"]) == 32 and len(report["claims"]) == 21 and len(report["behaviours"]) == 11
    )


def test_one_version_or_equal_versions_say_that_nothing_differs(tmp_path):
    paths = write(merge([load(DATA / "1.34.4")]), tmp_path)
    sentence = "Every behaviour and claim has the same result on every version."
    assert sentence in paths["md"].read_text() and sentence in paths["html"].read_text()
    assert json.loads(paths["json"].read_text())["differences"] == []


def test_html_is_self_contained():
    page = render_html(merge([load(DATA / v) for v in VERSIONS]), DATA)
    assert not re.search(r"src=|https?://|<link|<script|@import|url\(", page)
    assert all(not h.startswith(("/", "http")) for h in re.findall(r'href="([^"]*)"', page))


def test_the_step_summary_gets_the_difference_and_claims_tables(results, monkeypatch):
    summary = results / "summary.md"
    summary.write_text("# claims of one job\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write(merge([load(results / "1.33.13"), load(results / "1.34.4")]), results)
    text = summary.read_text()
    assert text.startswith("# claims of one job\n# Static pods on Kubernetes 1.33.13, 1.34.4\n")
    assert "## What differs between versions" in text and "## Claims of the article" in text
    assert (
        "| S14: kubectl delete/edit of a mirror pod is undone: the kubelet recreates it. | partly |" in text
    )
    forced = "| mirror_pod: deleted mirror pod comes back while the container keeps running [forced] |"
    assert f"{forced} passed | failed: AssertionError" in text
    assert "](" not in text  # the diagnostics are not on the run's page


def _bad(tmp_path: Path, **files: str) -> Path:
    directory = tmp_path / "1.34.4"
    directory.mkdir()
    for name, text in files.items():
        (directory / name.replace("_", ".")).write_text(text)
    return directory


RUN = json.dumps({"requested": "1.34.4", "status": "ran"})


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "is not a result directory: no run.json"),
        ({"run_json": "{not json"}, "run.json cannot be read: Expecting property name"),
        ({"run_json": "[]"}, "run.json is not a JSON object"),
        ({"run_json": '{"status": "ran"}'}, "run.json has no 'requested' (a string)"),
        ({"run_json": '{"requested": "1.34.4", "status": "done"}'}, "not 'ran' or 'failed: <why>'"),
        (
            {"run_json": RUN.replace('"ran"', '"ran", "seconds": "long"')},
            "'seconds' is 'long', of the wrong type",
        ),
        ({"run_json": RUN}, "has a run.json with status 'ran' but no junit.xml"),
        ({"run_json": RUN, "junit_xml": "<testsuites"}, "junit.xml cannot be read: unclosed token"),
        (
            {"run_json": RUN, "junit_xml": "<testsuites/>", "claims_json": '{"claims": [{}]}'},
            "not claims.json's shape",
        ),
    ],
)
def test_a_bad_result_directory_is_one_line_naming_it(tmp_path, capsys, files, expected):
    directory = _bad(tmp_path, **files)
    with pytest.raises(HarnessError) as error:
        load(directory)
    assert str(directory) in str(error.value) and expected in str(error.value)
    assert main(["--out", str(tmp_path / "out"), str(directory)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {directory}") and err.count("\n") == 1


def test_two_directories_of_one_version_are_refused(tmp_path):
    shutil.copytree(DATA / "1.34.4", tmp_path / "again")
    with pytest.raises(HarnessError, match=r"two result directories for 1\.34\.4: .*1\.34\.4, .*again"):
        merge([load(DATA / "1.34.4"), load(tmp_path / "again")])


def test_junit_names_map_back_to_node_ids_and_the_first_outcome_that_is_not_passed_wins(tmp_path):
    junit = (
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.e2e.test_x.TestThing" name="test_y[a]"><failure message="boom" />'
        '<error message="teardown" /></testcase>'
        '<testcase classname="" name="tests.e2e.test_broken">'
        '<error message="collection failure" /></testcase>'
        "</testsuite></testsuites>"
    )
    result = load(_bad(tmp_path, run_json=RUN, junit_xml=junit))
    assert result.tests == {
        "tests/e2e/test_x.py::TestThing::test_y[a]": Cell("failed", "boom"),
        "tests/e2e/test_broken.py": Cell("error", "collection failure"),
    }
    rows = {r.key: r for r in merge([result]).behaviours}
    assert rows["tests/e2e/test_broken.py"].text == "collecting the module"
    assert rows["tests/e2e/test_x.py::TestThing::test_y[a]"].area == "x"


def test_main_prints_the_paths_written_and_the_number_of_differences(results, capsys):
    assert main(["--out", str(results / "out"), *(str(results / v) for v in VERSIONS)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        str(results / "out" / "conformance.md"),
        str(results / "out" / "conformance.json"),
        str(results / "out" / "conformance.html"),
        "32 differences between 3 versions",
    ]


# Who refuses a static pod that refers to API objects, as test_api_references records it.
REFUSED_BY = {
    "1.33.13": "the pod runs; the API server refuses its mirror",
    "1.34.4": "the kubelet refuses the file",
}


def record_who_refuses(results: Path) -> None:
    """Both versions pass the API-references test [secrets], and record who refused the pod."""
    case = 'name="test_pod_that_refers_to_api_objects_never_gets_a_mirror[secrets]" time="12.345">'
    for version, observed in REFUSED_BY.items():
        junit = results / version / "junit.xml"
        prop = f'<properties><property name="observed" value="{observed}" /></properties>'
        junit.write_text(junit.read_text().replace(case, case + prop, 1))


def test_what_a_passing_test_observed_differs_between_versions(results):
    """Item 14: both versions pass the API-references test, but who refuses the pod differs."""
    record_who_refuses(results)

    matrix = merge([load(results / v) for v in REFUSED_BY])

    (row,) = [r for r in matrix.differences if r.key == REFS.format("secrets")]
    assert [(c.result, c.observed) for c in row.cells] == [("passed", text) for text in REFUSED_BY.values()]
    assert "the kubelet refuses the file" in render_html(matrix, results)


def test_what_a_passing_test_observed_differs_between_the_versions_that_ran_beside_a_failed_one(results):
    """1.35.4 did not run, so every row differs; who refuses the pod still differs between the versions
    that ran, and conformance.json says what each saw."""
    record_who_refuses(results)

    paths = write(merge([load(results / v) for v in VERSIONS]), results)

    page = paths["html"].read_text()
    among_ran = page.split("Differ between the versions that ran")[1].split("The same on the versions")[0]
    assert "refers to api objects never gets a mirror [secrets]" in among_ran
    assert "refers to api objects never gets a mirror [serviceaccounts]" not in among_ran
    report = json.loads(paths["json"].read_text())
    (row,) = [r for r in report["differences"] if r["key"] == REFS.format("secrets")]
    assert {v: c["observed"] for v, c in row["cells"].items()} == {**REFUSED_BY, "1.35.4": ""}
    assert {c["result"] for c in row["cells"].values()} == {"passed", NOT_RUN}
