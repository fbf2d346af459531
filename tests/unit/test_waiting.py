"""harness.waiting with a fake clock (instant) and fake API list/watch functions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client import V1ListMeta, V1ObjectMeta, V1Pod, V1PodList, V1PodStatus
from kubernetes.client.exceptions import ApiException, ServiceException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from harness import waiting
from harness.errors import HarnessError
from harness.waiting import (
    HoldBroken,
    WaitTimeout,
    deliberate,
    deliberate_seconds,
    hold_for,
    is_transient,
    poll_until,
    scaled,
    set_timeout_scale,
    watch_until,
)

UNAVAILABLE = ApiException(status=503, reason="Service Unavailable")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def unscaled() -> Iterator[None]:
    yield
    set_timeout_scale(1.0)


# --- the timeout scale ---------------------------------------------------------------------------


def test_scaled_multiplies_by_the_scale_set() -> None:
    assert scaled(10) == 10
    set_timeout_scale(2.5)
    assert scaled(10) == 25


@pytest.mark.parametrize("scale", [0, -1.0, float("nan")])
def test_set_timeout_scale_rejects_what_is_not_positive(scale: float) -> None:
    with pytest.raises(HarnessError, match=f"--sph-timeout-scale must be a positive number, not {scale}"):
        set_timeout_scale(scale)
    assert scaled(10) == 10


def test_poll_until_scales_its_timeout(clock: FakeClock) -> None:
    set_timeout_scale(2.5)
    with pytest.raises(WaitTimeout, match=r"^expected x within 10s; last seen: None$"):
        poll_until(lambda: None, timeout=4, expected="x", clock=clock, sleep=clock.sleep)
    assert clock.now == pytest.approx(1010.0)


def test_hold_for_windows_are_not_scaled(clock: FakeClock) -> None:
    set_timeout_scale(3)
    assert hold_for(lambda: "abc", window=10, expected="same", clock=clock, sleep=clock.sleep) == "abc"
    assert clock.now == pytest.approx(1010.0)


# --- transient errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (UNAVAILABLE, True),
        (ServiceException(status=500, reason="Internal Server Error"), True),
        (ApiException(status=429, reason="Too Many Requests"), True),
        (ApiException(status=0, reason="SSLError"), True),
        (ApiException(reason="no status"), True),
        (ApiException(status=403, reason="Forbidden"), False),
        (ApiException(status=404, reason="Not Found"), False),
        (ApiException(status=410, reason="Gone"), False),
        (ProtocolError("Connection broken"), True),
        (ReadTimeoutError(None, "/api", "read timed out"), True),  # type: ignore[arg-type]
        (NewConnectionError(None, "refused"), True),  # type: ignore[arg-type]
        (MaxRetryError(None, "/api"), True),  # type: ignore[arg-type]
        (ConnectionRefusedError("refused"), True),
        (TimeoutError("timed out"), True),
        (KeyError("bug"), False),
        (ValueError("bad"), False),
    ],
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


# --- poll_until ----------------------------------------------------------------------------------


def test_poll_until_returns_the_first_truthy_value(clock: FakeClock) -> None:
    values = iter([None, False, 0, "ready"])
    result = poll_until(lambda: next(values), timeout=10, expected="x", clock=clock, sleep=clock.sleep)
    assert result == "ready"
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_poll_until_timeout_says_what_how_long_and_last_seen(clock: FakeClock) -> None:
    with pytest.raises(WaitTimeout) as caught:
        poll_until(lambda: [], timeout=5, expected="the file to appear", clock=clock, sleep=clock.sleep)
    assert str(caught.value) == "expected the file to appear within 5s; last seen: []"
    assert isinstance(caught.value, AssertionError)
    assert clock.now == pytest.approx(1005.0)


def test_poll_until_uses_describe_for_the_last_state(clock: FakeClock) -> None:
    with pytest.raises(WaitTimeout, match=r"within 2s; last seen: kubelet inactive$"):
        poll_until(
            lambda: None,
            timeout=2,
            expected="kubelet active",
            describe=lambda: "kubelet inactive",
            clock=clock,
            sleep=clock.sleep,
        )


def test_a_failing_describe_does_not_hide_the_timeout(clock: FakeClock) -> None:
    def describe() -> str:
        raise RuntimeError("node gone")

    with pytest.raises(WaitTimeout, match="could not describe the state: RuntimeError: node gone"):
        poll_until(lambda: None, timeout=1, expected="x", describe=describe, clock=clock, sleep=clock.sleep)


def test_poll_until_retries_listed_exceptions_and_reports_them(clock: FakeClock) -> None:
    def probe() -> None:
        raise ConnectionError("refused")

    with pytest.raises(WaitTimeout, match="last seen: ConnectionError: refused"):
        poll_until(
            probe, timeout=3, expected="x", retry_on=(ConnectionError,), clock=clock, sleep=clock.sleep
        )


def test_poll_until_recovers_after_retried_exceptions(clock: FakeClock) -> None:
    outcomes: Iterator[Any] = iter([ConnectionError("refused"), "up"])

    def probe() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert (
        poll_until(probe, timeout=3, expected="x", retry_on=(OSError,), clock=clock, sleep=clock.sleep)
        == "up"
    )


def test_poll_until_treats_a_transient_api_error_as_not_yet(clock: FakeClock) -> None:
    outcomes: Iterator[Any] = iter([UNAVAILABLE, "up"])

    def probe() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert poll_until(probe, timeout=3, expected="x", clock=clock, sleep=clock.sleep) == "up"


def test_poll_until_reports_the_last_transient_error_in_one_line(clock: FakeClock) -> None:
    def probe() -> None:
        raise UNAVAILABLE

    with pytest.raises(WaitTimeout, match=r"last seen: ApiException: \(503\) Service Unavailable$"):
        poll_until(probe, timeout=1, expected="x", clock=clock, sleep=clock.sleep)


def test_poll_until_lets_an_api_error_that_is_an_answer_through(clock: FakeClock) -> None:
    def probe() -> None:
        raise ApiException(status=404, reason="Not Found")

    with pytest.raises(ApiException):
        poll_until(probe, timeout=3, expected="x", clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_poll_until_lets_other_exceptions_through(clock: FakeClock) -> None:
    def probe() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        poll_until(
            probe, timeout=3, expected="x", retry_on=(ConnectionError,), clock=clock, sleep=clock.sleep
        )
    assert clock.sleeps == []


# --- hold_for ------------------------------------------------------------------------------------


def test_hold_for_returns_the_held_value_after_the_window(clock: FakeClock) -> None:
    assert hold_for(lambda: "abc", window=10, expected="same", clock=clock, sleep=clock.sleep) == "abc"
    assert clock.now == pytest.approx(1010.0)


def test_hold_for_fails_as_soon_as_the_value_changes(clock: FakeClock) -> None:
    values = iter(["c1", "c1", "c1", "c2", "c3"])
    with pytest.raises(HoldBroken) as caught:
        hold_for(
            lambda: next(values), window=10, expected="container c1 to stay", clock=clock, sleep=clock.sleep
        )
    assert str(caught.value) == "expected container c1 to stay for 10s; after 1.0s saw 'c2' instead of 'c1'"
    assert (caught.value.held, caught.value.seen) == ("c1", "c2")


def test_hold_for_compares_with_unchanged_from_even_when_none(clock: FakeClock) -> None:
    with pytest.raises(HoldBroken, match="saw 'pod' instead of None"):
        hold_for(
            lambda: "pod", window=5, expected="absent", unchanged_from=None, clock=clock, sleep=clock.sleep
        )
    assert (
        hold_for(
            lambda: None, window=5, expected="absent", unchanged_from=None, clock=clock, sleep=clock.sleep
        )
        is None
    )


# --- watch_until -------------------------------------------------------------------------------


def pod(name: str, uid: str, phase: str, rv: str) -> V1Pod:
    return V1Pod(
        metadata=V1ObjectMeta(name=name, namespace="default", uid=uid, resource_version=rv),
        status=V1PodStatus(phase=phase),
    )


class FakeApi:
    """A list function whose successive lists, and the streams of the watches that follow, are scripted.

    A list or a step of a stream that is an exception is raised; a float in a stream is time passing.
    """

    def __init__(self, lists: list[Any], streams: list[list[Any]], clock: FakeClock) -> None:
        self.lists = lists
        self.streams = streams
        self.clock = clock
        self.list_calls: list[dict[str, Any]] = []
        self.stream_calls: list[dict[str, Any]] = []
        self.stopped = 0

    def list_namespaced_pod(self, **kwargs: Any) -> V1PodList:
        self.list_calls.append(kwargs)
        items = self.lists.pop(0)
        if isinstance(items, BaseException):
            raise items
        return V1PodList(items=items, metadata=V1ListMeta(resource_version=f"list-{len(self.list_calls)}"))

    def new_watch(self) -> FakeApi:
        return self

    def stream(self, func: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        assert func == self.list_namespaced_pod
        self.stream_calls.append(kwargs)
        for step in self.streams.pop(0):
            if isinstance(step, BaseException):
                raise step
            if isinstance(step, float):  # time passing with nothing happening
                self.clock.now += step
                continue
            yield step

    def stop(self) -> None:
        self.stopped += 1


def run_watch(api: FakeApi, predicate: Any, timeout: float = 30) -> Any:
    return watch_until(
        api.list_namespaced_pod,
        predicate,
        timeout=timeout,
        expected="the mirror pod Running",
        new_watch=api.new_watch,
        clock=api.clock,
        sleep=api.clock.sleep,
        namespace="default",
        field_selector="metadata.name=web",
    )


def running(obj: V1Pod | None) -> bool:
    return obj is not None and obj.status.phase == "Running"


def test_watch_until_returns_at_once_when_the_list_already_matches(clock: FakeClock) -> None:
    api = FakeApi([[pod("web", "u1", "Running", "5")]], [], clock)
    assert run_watch(api, running).metadata.uid == "u1"
    assert api.list_calls == [
        {"namespace": "default", "field_selector": "metadata.name=web", "_request_timeout": 30}
    ]
    assert api.stream_calls == []


def test_an_empty_list_means_absent(clock: FakeClock) -> None:
    api = FakeApi([[]], [], clock)
    assert run_watch(api, lambda obj: obj is None) is None


def test_watch_until_watches_from_the_lists_resource_version(clock: FakeClock) -> None:
    events = [
        {"type": "MODIFIED", "object": pod("web", "u1", "Pending", "6")},
        {"type": "MODIFIED", "object": pod("web", "u1", "Running", "7")},
    ]
    api = FakeApi([[pod("web", "u1", "Pending", "5")]], [events], clock)
    assert run_watch(api, running).metadata.resource_version == "7"
    (call,) = api.stream_calls
    assert call["resource_version"] == "list-1"
    assert call["timeout_seconds"] == 30
    assert call["field_selector"] == "metadata.name=web"
    assert api.stopped == 1


def test_a_deleted_event_shows_the_predicate_none(clock: FakeClock) -> None:
    events = [{"type": "DELETED", "object": pod("web", "u1", "Running", "6")}]
    api = FakeApi([[pod("web", "u1", "Running", "5")]], [events], clock)
    assert run_watch(api, lambda obj: obj is None) is None


def test_a_replacement_is_seen_through_delete_then_add(clock: FakeClock) -> None:
    events = [
        {"type": "DELETED", "object": pod("web", "u1", "Running", "6")},
        {"type": "ADDED", "object": pod("web", "u2", "Pending", "7")},
    ]
    api = FakeApi([[pod("web", "u1", "Running", "5")]], [events], clock)
    replaced = run_watch(api, lambda obj: obj is not None and obj.metadata.uid != "u1")
    assert replaced.metadata.uid == "u2"


def test_a_watch_that_ends_is_resumed_from_the_last_event(clock: FakeClock) -> None:
    streams = [
        [{"type": "MODIFIED", "object": pod("web", "u1", "Pending", "6")}, 10.0],
        [{"type": "MODIFIED", "object": pod("web", "u1", "Running", "8")}],
    ]
    api = FakeApi([[pod("web", "u1", "Pending", "5")]], streams, clock)
    assert run_watch(api, running).metadata.resource_version == "8"
    assert [call["resource_version"] for call in api.stream_calls] == ["list-1", "6"]
    assert api.stream_calls[1]["timeout_seconds"] == 20
    assert len(api.list_calls) == 1


def test_gone_leads_to_a_fresh_list(clock: FakeClock) -> None:
    lists = [[pod("web", "u1", "Pending", "5")], [pod("web", "u1", "Running", "9")]]
    api = FakeApi(lists, [[ApiException(status=410, reason="Expired")]], clock)
    assert run_watch(api, running).metadata.resource_version == "9"
    assert len(api.list_calls) == 2


def test_other_api_errors_propagate(clock: FakeClock) -> None:
    api = FakeApi(
        [[pod("web", "u1", "Pending", "5")]], [[ApiException(status=403, reason="Forbidden")]], clock
    )
    with pytest.raises(ApiException):
        run_watch(api, running)


def test_watch_until_times_out_describing_the_last_object(clock: FakeClock) -> None:
    streams = [[{"type": "MODIFIED", "object": pod("web", "u1", "Pending", "6")}, 31.0]]
    api = FakeApi([[pod("web", "u1", "Pending", "5")]], streams, clock)
    with pytest.raises(WaitTimeout) as caught:
        run_watch(api, running)
    assert str(caught.value) == (
        "expected the mirror pod Running within 30s; last seen: default/web uid=u1 phase=Pending"
    )


def test_watch_until_timeout_when_absent(clock: FakeClock) -> None:
    api = FakeApi([[]], [[31.0]], clock)
    with pytest.raises(WaitTimeout, match="last seen: absent"):
        run_watch(api, running)


def test_watch_until_scales_its_timeout(clock: FakeClock) -> None:
    set_timeout_scale(2)
    api = FakeApi([[pod("web", "u1", "Pending", "5")]], [[61.0]], clock)
    with pytest.raises(WaitTimeout, match="within 60s; last seen: default/web uid=u1 phase=Pending"):
        run_watch(api, running)
    assert api.stream_calls[0]["timeout_seconds"] == 60
    assert api.list_calls[0]["_request_timeout"] == 60


def test_a_list_is_bounded_by_the_request_timeout_and_what_the_wait_has_left(clock: FakeClock) -> None:
    lists = [[pod("web", "u1", "Pending", "5")], [pod("web", "u1", "Running", "7")]]
    api = FakeApi(lists, [[99.0, ProtocolError("Connection broken")]], clock)
    assert run_watch(api, running, timeout=100).metadata.resource_version == "7"
    assert [call["_request_timeout"] for call in api.list_calls] == [30, 5]


def test_watch_until_survives_a_transient_error_on_the_list(clock: FakeClock) -> None:
    api = FakeApi([UNAVAILABLE, [pod("web", "u1", "Running", "5")]], [], clock)
    assert run_watch(api, running).metadata.uid == "u1"
    assert clock.sleeps == [0.5]


def test_watch_until_lists_again_after_a_broken_watch(clock: FakeClock) -> None:
    lists = [[pod("web", "u1", "Pending", "5")], [pod("web", "u1", "Pending", "7")]]
    streams = [
        [
            {"type": "MODIFIED", "object": pod("web", "u1", "Pending", "6")},
            ProtocolError("Connection broken"),
        ],
        [{"type": "MODIFIED", "object": pod("web", "u1", "Running", "8")}],
    ]
    api = FakeApi(lists, streams, clock)
    assert run_watch(api, running).metadata.resource_version == "8"
    assert [call["resource_version"] for call in api.stream_calls] == ["list-1", "list-2"]
    assert clock.sleeps == [0.5]


def test_watch_until_gives_up_at_the_deadline_with_the_last_error(clock: FakeClock) -> None:
    api = FakeApi([UNAVAILABLE] * 20, [], clock)
    with pytest.raises(WaitTimeout) as caught:
        run_watch(api, running, timeout=20)
    assert caught.value.last_seen == "ApiException: (503) Service Unavailable"
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 0.5]
    assert clock.now == pytest.approx(1020.0)


def test_an_api_error_that_is_an_answer_propagates_from_the_list_at_once(clock: FakeClock) -> None:
    api = FakeApi([ApiException(status=403, reason="Forbidden")], [], clock)
    with pytest.raises(ApiException, match="Forbidden"):
        run_watch(api, running)
    assert clock.sleeps == []


def test_deliberate_waits_are_counted_once_however_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([100.0, 101.0, 103.0])  # outer start, inner start, outer end (the inner end is not counted)
    monkeypatch.setattr(waiting.time, "monotonic", lambda: next(ticks))
    before = deliberate_seconds()
    with deliberate(), deliberate():
        pass
    assert deliberate_seconds() - before == 3.0


def test_a_hold_window_is_a_deliberate_wait(clock: FakeClock) -> None:
    before = deliberate_seconds()
    hold_for(lambda: 1, window=5, expected="one", clock=clock, sleep=clock.sleep)
    assert deliberate_seconds() > before
