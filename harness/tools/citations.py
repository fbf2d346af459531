"""`make citations`: every upstream test name a test here quotes exists in the file it cites.

A citation in a docstring of tests/e2e is a file of kubernetes/kubernetes test/e2e_node followed
by quoted names: `mirror_pod_test.go "should be recreated when mirror pod forcibly deleted"`, or
several, separated by "/" or ",". A name is what Ginkgo prints: the strings of the enclosing
SIGDescribe/Describe/Context calls and of the It, joined by spaces, or the It's string alone.
Names are looked up in the released k8s.io/kubernetes versions UPSTREAM_VERSIONS (from the Go module
proxy, so this runs where the offline node-image build runs).
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import cli
from harness.errors import HarnessError
from harness.nodeimage.binaries import kubernetes_module
from harness.paths import PROJECT_ROOT
from harness.versions import DEFAULT_K8S_VERSION, MINORS, KubeVersion

# The suite's default version and the newest release of the table (a pre-release): a cited name
# must be in one of them (some tests exist only from 1.36 on, e.g. static_pod_test.go).
UPSTREAM_VERSIONS = (f"v{DEFAULT_K8S_VERSION}", f"v{MINORS[-1].newest}")
E2E_NODE = "test/e2e_node"
CITATION = re.compile(r'(\w+_test\.go)\s*\(?((?:\s*(?:/|,)?\s*"[^"]+")+)')
QUOTED = re.compile(r'"([^"]+)"')
GINKGO_CALL = re.compile(r'\b(SIGDescribe|Describe|Context|It)\(\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Citation:
    where: str  # test file and function
    file: str
    name: str


@dataclass(frozen=True)
class GinkgoTexts:
    """The strings of one upstream file's Ginkgo calls: containers (Describe, Context) and Its."""

    containers: frozenset[str]
    its: frozenset[str]

    @classmethod
    def parse(cls, source: str) -> GinkgoTexts:
        containers, its = set(), set()
        for kind, text in GINKGO_CALL.findall(source):
            (its if kind == "It" else containers).add(_words(text))
        return cls(frozenset(containers), frozenset(its))

    def names(self, name: str) -> bool:
        """Whether `name` is an It's text, after any run of container texts."""
        words = _words(name)
        return any(
            words.endswith(it) and self._containers_make(words[: len(words) - len(it)].strip())
            for it in self.its
        )

    def _containers_make(self, prefix: str) -> bool:
        if not prefix:
            return True
        return any(
            prefix.startswith(text) and self._containers_make(prefix[len(text) :].strip())
            for text in self.containers
            if text
        )


def _words(text: str) -> str:
    return " ".join(text.split())


def citations(test_files: Iterable[Path]) -> Iterator[Citation]:
    """Each quoted upstream test name in the docstrings of these test modules."""
    for path in test_files:
        tree = ast.parse(path.read_text(), filename=str(path))
        documented = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]
        for node in documented:
            doc = ast.get_docstring(node) or ""
            where = f"{path.name}::{getattr(node, 'name', '<module>')}"
            for file, quoted in CITATION.findall(doc):
                for name in QUOTED.findall(quoted):
                    yield Citation(where, file, name)


def wrong_citations(found: Iterable[Citation], upstream_dirs: list[Path]) -> list[str]:
    """One line for each citation whose name is in no version of the cited file."""
    texts: dict[str, list[GinkgoTexts]] = {}
    problems = []
    for citation in found:
        if citation.file not in texts:
            sources = [d / E2E_NODE / citation.file for d in upstream_dirs]
            texts[citation.file] = [GinkgoTexts.parse(s.read_text()) for s in sources if s.is_file()]
        if not texts[citation.file]:
            problems.append(f"{citation.where}: {citation.file} is in no checked version of {E2E_NODE}")
        elif not any(t.names(citation.name) for t in texts[citation.file]):
            problems.append(f'{citation.where}: {citation.file} has no test "{citation.name}"')
    return problems


def check(test_dir: Path) -> None:
    upstream = [kubernetes_module(KubeVersion.parse(v)).dir for v in UPSTREAM_VERSIONS]
    found = list(citations(sorted(test_dir.glob("test_*.py"))))
    problems = wrong_citations(found, upstream)
    for line in problems:
        print(line)
    if problems:
        raise HarnessError(f"{len(problems)} of {len(found)} upstream test names cited are wrong")
    print(f"{len(found)} upstream test names cited, each found in {' or '.join(UPSTREAM_VERSIONS)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.tools.citations", description=__doc__)
    parser.add_argument("--tests", type=Path, default=PROJECT_ROOT / "tests" / "e2e")
    args = parser.parse_args(argv)
    return cli.run(lambda: check(args.tests))


if __name__ == "__main__":
    raise SystemExit(main())
