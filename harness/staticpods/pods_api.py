"""The kubelet's Pods API, reached from the host: gRPC on the node's unix socket (PodsAPI, beta and on by
default from 1.37; k8s.io/kubelet/pkg/apis/pods/v1alpha1).

The socket is inside the node; for as long as a test needs it, socat on the node (a transient systemd
unit) forwards a TCP port of the node's own address to it. The calls are made with grpcio's generic
stubs, and only what tests read is decoded from the protobuf: each event's type, and each pod's
namespace, name and UID (the v1.Pod's ObjectMeta, fields 3, 1 and 5).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import grpc

from harness.errors import HarnessError
from harness.node import Node
from harness.staticpods.manifest import unique_name
from harness.waiting import poll_until, scaled

SOCKET = "/var/lib/kubelet/pods-api/pods-api.sock"  # util.LocalEndpoint(podsAPIDir, pods.Socket)
FORWARD_PORT = 10299
SERVICE = "/v1alpha1.Pods"
EVENT_TYPES = {0: "UNSPECIFIED", 1: "ADDED", 2: "MODIFIED", 3: "DELETED", 4: "INITIAL_SYNC_COMPLETE"}
READY_TIMEOUT = 60
CALL_TIMEOUT = 10
_VARINT, _LENGTH_DELIMITED = 0, 2


class PodRef(NamedTuple):
    namespace: str
    name: str
    uid: str


class Event(NamedTuple):
    type: str
    pod: PodRef | None


def decode_fields(data: bytes) -> dict[int, list[int | bytes]]:
    """A protobuf message's fields, by number: varints as ints, length-delimited ones as bytes (fixed
    32/64-bit fields are skipped). ValueError on a truncated or unknown encoding."""
    fields: dict[int, list[int | bytes]] = {}
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, position = _varint(data, position)
        elif wire_type == _LENGTH_DELIMITED:
            size, position = _varint(data, position)
            value, position = data[position : position + size], position + size
            if position > len(data):
                raise ValueError("a length-delimited field runs past the end of the message")
        elif wire_type in (1, 5):  # fixed64, fixed32
            position += 8 if wire_type == 1 else 4
            continue
        else:
            raise ValueError(f"unknown protobuf wire type {wire_type}")
        fields.setdefault(number, []).append(value)
    return fields


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data):
            raise ValueError("a varint runs past the end of the message")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position, shift = position + 1, shift + 7
        if not byte & 0x80:
            return value, position


def pod_ref(pod: bytes) -> PodRef:
    """The namespace, name and UID of a protobuf-encoded v1.Pod."""
    meta = decode_fields(_first_bytes(decode_fields(pod), 1))
    return PodRef(*(_first_bytes(meta, n).decode() for n in (3, 1, 5)))


def event_of(message: bytes) -> Event:
    """A WatchPodsEvent: type = 1 (an enum), pod = 2 (absent in INITIAL_SYNC_COMPLETE)."""
    fields = decode_fields(message)
    kind = fields.get(1, [0])[0]
    pod = fields.get(2)
    return Event(EVENT_TYPES.get(kind, str(kind)), pod_ref(pod[0]) if pod else None)


def _first_bytes(fields: dict[int, list[int | bytes]], number: int) -> bytes:
    value = fields.get(number, [b""])[0]
    return value if isinstance(value, bytes) else b""


@dataclass
class Watch:
    """The events of one WatchPods stream, gathered by a thread until the stream is cancelled."""

    call: grpc.Future
    events: list[Event] = field(default_factory=list)
    error: grpc.RpcError | None = None

    def follow(self) -> None:
        try:
            for message in self.call:
                self.events.append(event_of(message))
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                self.error = error

    def wait_for(self, kind: str, namespace: str, name: str, timeout: float) -> Event:
        def probe() -> Event | None:
            if self.error is not None:
                raise HarnessError(f"the Pods API watch ended: {self.error.code().name}")
            return next(
                (e for e in self.events if e.type == kind and e.pod and e.pod[:2] == (namespace, name)), None
            )

        return poll_until(
            probe,
            timeout=timeout,
            expected=f"a {kind} event of {namespace}/{name} on the Pods API watch",
            describe=lambda: ", ".join(f"{e.type} {e.pod and e.pod.name}" for e in self.events[-5:]),
        )


@dataclass
class PodsApi:
    channel: grpc.Channel

    def list_pods(self) -> list[PodRef]:
        call = self.channel.unary_unary(f"{SERVICE}/ListPods", lambda r: r, lambda r: r)
        response = call(b"", timeout=scaled(CALL_TIMEOUT))
        return [pod_ref(p) for p in decode_fields(response).get(1, []) if isinstance(p, bytes)]

    @contextmanager
    def watching(self) -> Iterator[Watch]:
        """A WatchPods stream for the body, cancelled afterwards."""
        watch = Watch(self.channel.unary_stream(f"{SERVICE}/WatchPods", lambda r: r, lambda r: r)(b""))
        thread = threading.Thread(target=watch.follow, name="pods-api-watch", daemon=True)
        thread.start()
        try:
            yield watch
        finally:
            watch.call.cancel()
            thread.join(scaled(CALL_TIMEOUT))


@contextmanager
def pods_api(node: Node, address: str) -> Iterator[PodsApi]:
    """The Pods API of `node`'s kubelet, forwarded to `address` (the node's own IP) for the body; the
    forward answers once ListPods does."""
    unit = unique_name("pods-api-forward")
    node.run(
        "systemd-run", f"--unit={unit}", "socat",
        f"TCP-LISTEN:{FORWARD_PORT},bind={address},fork,reuseaddr", f"UNIX-CONNECT:{SOCKET}",
    )  # fmt: skip
    channel = grpc.insecure_channel(f"{address}:{FORWARD_PORT}")
    try:
        api = PodsApi(channel)
        poll_until(
            lambda: _answers(api),
            timeout=READY_TIMEOUT,
            expected=f"the kubelet's Pods API on {node.name} answering ListPods through {address}",
            describe=lambda: _socket_listing(node),
        )
        yield api
    finally:
        channel.close()
        node.run("systemctl", "stop", unit, check=False)


def _socket_listing(node: Node) -> str:
    listed = node.run("ls", "-l", SOCKET, check=False)
    return (listed.stdout or listed.stderr).strip()


def _answers(api: PodsApi) -> bool:
    try:
        api.list_pods()
    except grpc.RpcError:
        return False
    return True
