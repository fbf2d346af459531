"""The manifest URL server: what it serves, the headers it keeps, and the node's gateway it binds to."""

import urllib.error
import urllib.request

import pytest

from harness.errors import HarnessError
from harness.staticpods import manifest_url
from harness.staticpods.manifest_url import gateway_of, manifest_server


class FakeNode:
    name = "node-1"

    def __init__(self, route: str) -> None:
        self.route = route

    def run(self, *argv: str):
        assert argv == ("ip", "-4", "route", "show", "default")
        return type("Result", (), {"stdout": self.route})()


def test_gateway_is_the_default_routes_via_address() -> None:
    assert gateway_of(FakeNode("default via 172.18.0.1 dev eth0\n")) == "172.18.0.1"


def test_a_node_without_a_default_route_is_one_clear_error() -> None:
    with pytest.raises(HarnessError, match="node-1 has no IPv4 default route"):
        gateway_of(FakeNode(""))


def test_server_answers_what_was_set_and_keeps_request_headers(monkeypatch) -> None:
    monkeypatch.setattr(manifest_url, "gateway_of", lambda node: "127.0.0.1")
    with manifest_server(FakeNode("")) as (url, served):
        with pytest.raises(urllib.error.HTTPError) as not_yet:
            urllib.request.urlopen(url, timeout=5)
        served.serve(b"kind: Pod\n")
        request = urllib.request.Request(url, headers={"X-Token": "abc"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            body = answer.read()

    assert not_yet.value.code == 404
    assert body == b"kind: Pod\n"
    assert [h.get("X-Token") for h in served.headers_seen()] == [None, "abc"]
