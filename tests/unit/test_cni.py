import json

from harness.cluster import cni


class FakeFile:
    def __init__(self, node, path):
        self.node, self.path = node, path

    def write_text(self, text):
        self.node.files[self.path] = text


class FakeNode:
    def __init__(self):
        self.commands, self.files = [], {}

    def run(self, *argv):
        self.commands.append(argv)

    def file(self, path):
        return FakeFile(self, path)


def test_each_node_gets_its_pod_cidr_and_routes_to_the_others():
    nodes = {"a": FakeNode(), "b": FakeNode()}
    cni.configure(
        nodes,
        [
            cni.NodeNetwork("a", "172.18.0.2", "10.244.0.0/24"),
            cni.NodeNetwork("b", "172.18.0.3", "10.244.1.0/24"),
        ],
    )
    assert nodes["a"].commands == [("ip", "route", "replace", "10.244.1.0/24", "via", "172.18.0.3")]
    config = json.loads(nodes["b"].files[cni.CONFIG_PATH])
    assert config["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]]
    assert [p["type"] for p in config["plugins"]] == ["ptp", "portmap"]
