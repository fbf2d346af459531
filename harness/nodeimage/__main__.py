"""`python -m harness.nodeimage build|choose --k8s-version X [--node-image auto]`.

build: make (or find cached) the offline node image. choose: print the node image a run
with these settings uses, building the offline one if that is the choice.
"""

from __future__ import annotations

import argparse
import sys

from docker.errors import DockerException

from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.interrupts import handle_interrupts
from harness.nodeimage.build import build
from harness.nodeimage.choose import choose_node_image
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion


def main(argv: list[str]) -> int:
    handle_interrupts()  # clean up (build container, partial stages) on SIGTERM as on Ctrl-C
    parser = argparse.ArgumentParser(prog="python -m harness.nodeimage")
    parser.add_argument("command", choices=("build", "choose"))
    parser.add_argument("--k8s-version", default=DEFAULT_K8S_VERSION)
    parser.add_argument("--node-image", default="auto")
    args = parser.parse_args(argv)
    try:
        version = KubeVersion.parse(args.k8s_version)
        client = docker_client()
        image = (
            build(version, client)
            if args.command == "build"
            else choose_node_image(args.node_image, version, client)
        )
    except (HarnessError, DockerException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was tagged", file=sys.stderr)
        return 130
    print(image)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
