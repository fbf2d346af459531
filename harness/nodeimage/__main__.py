"""`python -m harness.nodeimage build|choose|kubernetes --k8s-version X [--node-image auto]`.

build: make (or find cached) the offline node image. choose: print the node image a run
with these settings uses, building the offline one if that is the choice. kubernetes: build
(or find cached) only that release's binaries, and print their directory (the upgrade check's
FROM kubelet comes from there).
"""

from __future__ import annotations

import argparse
import sys

from docker.errors import DockerException

from harness import cli
from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.interrupts import handle_interrupts
from harness.nodeimage.build import build, kubernetes_binaries
from harness.nodeimage.choose import choose_node_image
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion


def main(argv: list[str]) -> int:
    handle_interrupts()  # clean up (build container, partial stages) on SIGTERM as on Ctrl-C
    parser = argparse.ArgumentParser(prog="python -m harness.nodeimage")
    parser.add_argument("command", choices=("build", "choose", "kubernetes"))
    parser.add_argument("--k8s-version", default=DEFAULT_K8S_VERSION)
    parser.add_argument("--node-image", default="auto")
    args = parser.parse_args(argv)

    def act() -> None:
        version = KubeVersion.parse(args.k8s_version)
        if args.command == "kubernetes":
            print(kubernetes_binaries(version))
            return
        try:
            client = docker_client()
            image = build(version, client) if args.command == "build" else None
            print(image or choose_node_image(args.node_image, version, client))
        except DockerException as exc:
            raise HarnessError(f"Docker: {exc}") from None

    return cli.run(act)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
