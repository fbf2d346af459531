"""The check that upstream test names quoted in e2e docstrings exist in the cited upstream file."""

from pathlib import Path

from harness.tools.citations import E2E_NODE, Citation, GinkgoTexts, citations, wrong_citations

UPSTREAM = """
var _ = SIGDescribe("MirrorPod", func() {
	ginkgo.Context("when create a mirror pod ", func() {
		f.It("should be recreated when mirror pod forcibly deleted", f.WithNodeConformance(), func() {})
	})
	ginkgo.Context("when kubelet restarts", func() {
		f.It("should not change container status", func() {})
	})
})
"""


def test_a_name_is_an_its_text_alone_or_after_its_containers() -> None:
    texts = GinkgoTexts.parse(UPSTREAM)
    assert texts.names("should not change container status")
    assert texts.names("MirrorPod when kubelet restarts should not change container status")
    assert texts.names(
        "MirrorPod when create a mirror pod should be recreated when mirror pod forcibly deleted"
    )


def test_a_name_that_is_not_there_or_is_abbreviated_is_not_found() -> None:
    texts = GinkgoTexts.parse(UPSTREAM)
    assert not texts.names("should not restart the static pod when kubelet restarts")
    assert not texts.names("... forcibly deleted")
    assert not texts.names("MirrorPod")  # a container, not a test


def test_docstring_citations_are_found_one_name_each(tmp_path: Path) -> None:
    test_file = tmp_path / "test_x.py"
    test_file.write_text(
        '"""Sources: mirror_pod_test.go ("should not change container status").\n"""\n\n'
        "def test_a():\n"
        '    """mirror_pod_test.go "should be recreated when mirror pod forcibly deleted" /\n'
        '    "should be recreated when mirror pod gracefully deleted"; common.go applyDefaults."""\n'
    )

    found = list(citations([test_file]))

    assert [(c.where, c.name) for c in found] == [
        ("test_x.py::<module>", "should not change container status"),
        ("test_x.py::test_a", "should be recreated when mirror pod forcibly deleted"),
        ("test_x.py::test_a", "should be recreated when mirror pod gracefully deleted"),
    ]


def test_wrong_citations_name_the_test_and_what_is_missing(tmp_path: Path) -> None:
    upstream = tmp_path / "k8s" / E2E_NODE
    upstream.mkdir(parents=True)
    (upstream / "mirror_pod_test.go").write_text(UPSTREAM)
    cited = [
        Citation("t.py::ok", "mirror_pod_test.go", "should not change container status"),
        Citation("t.py::bad", "mirror_pod_test.go", "should not restart the static pod"),
        Citation("t.py::nofile", "static_pod_test.go", "anything"),
    ]

    assert wrong_citations(cited, [tmp_path / "k8s"]) == [
        't.py::bad: mirror_pod_test.go has no test "should not restart the static pod"',
        "t.py::nofile: static_pod_test.go is in no checked version of test/e2e_node",
    ]
