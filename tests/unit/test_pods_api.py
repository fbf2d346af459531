import pytest

from harness.staticpods.pods_api import Event, PodRef, decode_fields, event_of, pod_ref


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


# A v1.Pod as the kubelet marshals it: metadata (1) with name (1), generateName (2), namespace (3), uid (5),
# a resourceVersion (6), and a spec (2) the decoder must step over.
META = field(1, "web-node") + field(3, "default") + field(5, "a1b2") + field(6, "42")
POD = field(1, META) + field(2, field(1, "x" * 200))


def test_a_pods_namespace_name_and_uid_are_read_from_its_metadata():
    assert pod_ref(POD) == PodRef("default", "web-node", "a1b2")


def test_a_watch_event_gives_its_type_and_pod():
    assert event_of(field(1, 3) + field(2, POD)) == Event("DELETED", PodRef("default", "web-node", "a1b2"))


def test_the_initial_sync_event_has_no_pod_and_an_absent_type_is_unspecified():
    assert event_of(field(1, 4)) == Event("INITIAL_SYNC_COMPLETE", None)
    assert event_of(b"") == Event("UNSPECIFIED", None)


def test_repeated_fields_keep_their_order_and_fixed_width_fields_are_skipped():
    fixed32 = varint(7 << 3 | 5) + b"\x00\x00\x00\x01"
    assert decode_fields(field(1, b"a") + fixed32 + field(1, b"b") + field(2, 300)) == {
        1: [b"a", b"b"],
        2: [300],
    }


@pytest.mark.parametrize("data", [field(1, b"abc")[:-1], b"\x08\x80", varint(1 << 3 | 3)])
def test_a_truncated_or_unknown_encoding_is_a_value_error(data):
    with pytest.raises(ValueError):
        decode_fields(data)
