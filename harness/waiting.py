"""Bounded waits, each failing with what was expected, how long it waited and what was last seen.

Policy:

* Every wait is bounded. Nothing here (or anywhere in the harness) sleeps for a fixed time to "let
  things settle": a test says what it expects and how long it is willing to wait for it.
* State held by the API server is waited on through a watch (`watch_until`): it lists first, so a
  state that already holds returns at once, then follows the changes, so nothing is missed between
  two polls and no API calls are spent on polling.
* State held by a node (files, crictl's view, systemd units, the kubelet's health) is polled
  (`poll_until`): the kubelet and containerd offer no event stream for it that the harness can
  follow from outside the node.
* Behaviours defined over a window ("the container stays the same for 10 s") are checked with
  `hold_for`, which fails as soon as the state changes instead of at the end of the window.
* Timeouts are scaled in one place: callers pass the seconds a wait may take on an ordinary machine,
  and `poll_until` and `watch_until` multiply them by the scale (`--sph-timeout-scale`) themselves; any
  other bound on time (a command's limit, an API request's timeout) goes through `scaled`.
* A wait whose length the kubelet's own timers decide (a grace period, the periodic sync, the
  re-list of the manifest path), and every `hold_for` window, is counted as `deliberate`: the
  plugin records each test's share, so that `make speed` can tell those seconds from the harness's.
* Transient API failures (a refused or dropped connection, 429, 5xx: the API server restarting or
  overloaded) are not verdicts: the waits retry them until their deadline, and report the last one.

The clock and the sleep function are parameters so that unit tests run instantly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, Protocol, TypeVar

import kubernetes.watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from harness.errors import HarnessError

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], None]

# Seconds an API request may take unless it sets its own timeout (scaled, like every bound).
REQUEST_TIMEOUT = 30.0
# A list in `watch_until` may take no longer than its wait has left, but at least this many seconds:
# a list sent just before the deadline still gets a fair chance to answer.
_MIN_LIST_TIMEOUT = 5.0
# A watch is asked to end a little before our deadline; the client-side read timeout is this much
# longer, so that a connection that went silent cannot block a wait past its bound.
_READ_TIMEOUT_GRACE = 10.0
# After a transient API failure `watch_until` lists again after this pause, doubled at each failure
# in a row up to the maximum (and never past its deadline).
_FIRST_BACKOFF = 0.5
_MAX_BACKOFF = 4.0
_HTTP_GONE = 410
_HTTP_TOO_MANY_REQUESTS = 429
_HTTP_SERVER_ERROR = 500

_timeout_scale = 1.0
# The junit property under which the plugin records each test's deliberate seconds.
DELIBERATE_WAIT = "deliberate_wait"
_deliberate_seconds = 0.0  # the outermost `deliberate` bodies' time, in this process
_deliberate_depth = 0


def set_timeout_scale(scale: float) -> None:
    """Multiply every timeout by `scale` from now on (`--sph-timeout-scale`, for slow machines).

    One process runs one test run, so the scale is process-wide: set once, by the pytest plugin at
    configure time and by the command-line tools at their start, before any wait.
    """
    global _timeout_scale
    if not scale > 0:
        raise HarnessError(f"--sph-timeout-scale must be a positive number, not {scale}")
    _timeout_scale = scale


def scaled(seconds: float) -> float:
    """`seconds` (a bound on an ordinary machine) multiplied by the timeout scale."""
    return seconds * _timeout_scale


def is_transient(error: BaseException) -> bool:
    """Whether `error` is an API or connection failure that may well not happen again.

    That is 429 and 5xx answers, status 0 or none (what the client reports for a failed connection),
    and urllib3's and the OS's connection errors and timeouts. Other API errors (403, 404...) are
    answers, not failures to get one.
    """
    if isinstance(error, ApiException):
        status = error.status
        return not status or status == _HTTP_TOO_MANY_REQUESTS or status >= _HTTP_SERVER_ERROR
    return isinstance(error, HTTPError | ConnectionError | TimeoutError)


def _error_text(error: BaseException) -> str:
    """One line for an error; an ApiException's status and reason, without its headers and body."""
    if isinstance(error, ApiException):
        return f"{type(error).__name__}: ({error.status}) {error.reason}"
    return f"{type(error).__name__}: {error}"


class WaitTimeout(AssertionError):
    """A bounded wait ended before the expected state was seen."""

    def __init__(self, expected: str, timeout: float, last_seen: str) -> None:
        super().__init__(f"expected {expected} within {timeout:g}s; last seen: {last_seen}")
        self.expected = expected
        self.timeout = timeout
        self.last_seen = last_seen


class HoldBroken(AssertionError):
    """A state that had to hold for a window changed within it."""

    def __init__(self, expected: str, window: float, after: float, held: object, seen: object) -> None:
        super().__init__(
            f"expected {expected} for {window:g}s; after {after:.1f}s saw {seen!r} instead of {held!r}"
        )
        self.expected = expected
        self.held = held
        self.seen = seen


def poll_until(
    probe: Callable[[], T | Literal[False] | None],
    *,
    timeout: float,
    expected: str,
    describe: Callable[[], str] | None = None,
    retry_on: tuple[type[Exception], ...] = (),
    interval: float = 0.5,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> T:
    """Call `probe` until it returns something truthy, and return that; for `scaled(timeout)` at most.

    `describe`, when given, says what the state was at the timeout (the probe's last value, by
    default). Transient errors (`is_transient`) and exceptions of the `retry_on` types count as "not
    yet" and their text is what was last seen; any other exception propagates at once, because a
    broken probe is not a slow system.
    """
    limit = scaled(timeout)
    deadline = clock() + limit
    while True:
        try:
            value = probe()
        except Exception as error:
            if not (isinstance(error, retry_on) or is_transient(error)):
                raise
            last_seen = _error_text(error)
        else:
            if value:
                return value
            last_seen = repr(value)
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(expected, limit, _describe(describe) if describe else last_seen)
        sleep(min(interval, remaining))


def _describe(describe: Callable[[], str]) -> str:
    """What `describe` says; its failure must not hide the timeout it is meant to explain."""
    try:
        return describe()
    except Exception as error:
        return f"(could not describe the state: {type(error).__name__}: {error})"


class _Unset:
    def __repr__(self) -> str:
        return "<first probe value>"


_UNSET: Any = _Unset()


@contextmanager
def deliberate() -> Iterator[None]:
    """Count the body's time as a deliberate wait (one the kubelet's timers, or a hold window, set the
    length of); nested uses count once."""
    global _deliberate_seconds, _deliberate_depth
    start, _deliberate_depth = time.monotonic(), _deliberate_depth + 1
    try:
        yield
    finally:
        _deliberate_depth -= 1
        if not _deliberate_depth:
            _deliberate_seconds += time.monotonic() - start


def deliberate_seconds() -> float:
    """Seconds this process has spent in deliberate waits so far."""
    return _deliberate_seconds


def hold_for(
    probe: Callable[[], T],
    *,
    window: float,
    expected: str,
    unchanged_from: T = _UNSET,
    interval: float = 0.5,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> T:
    """Check that `probe` keeps returning the same value for `window` seconds; return that value.

    The reference is `unchanged_from` when given (it may be None: "stays absent"), else the first
    probe value. Fails with HoldBroken at the first differing value, not at the end of the window.
    The window is not scaled: it is part of the behaviour under test, not a bound on a slow machine.
    """
    with deliberate():
        start = clock()
        held = probe() if unchanged_from is _UNSET else unchanged_from
        while True:
            value = probe()
            elapsed = clock() - start
            if value != held:
                raise HoldBroken(expected, window, elapsed, held, value)
            if elapsed >= window:
                return held
            sleep(min(interval, window - elapsed))


class _Watch(Protocol):
    def stream(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]: ...

    def stop(self) -> None: ...


def describe_object(obj: Any | None) -> str:
    """Name, uid and phase of an API object (the phase only where it has one)."""
    if obj is None:
        return "absent (nothing matched)"
    metadata = obj.metadata
    text = f"{metadata.namespace + '/' if metadata.namespace else ''}{metadata.name} uid={metadata.uid}"
    phase = getattr(getattr(obj, "status", None), "phase", None)
    return f"{text} phase={phase}" if phase else text


class _NoMatch:
    pass


_NO_MATCH = _NoMatch()


class _Selection:
    """The objects a list/watch selects, as far as the events seen so far tell.

    The predicate sees each object as it is listed, added or modified, and None whenever the
    selection is (or becomes) empty; so "the mirror pod is gone" is `lambda pod: pod is None`
    and "it came back as a new object" is `lambda pod: pod is not None and pod.metadata.uid != old`.
    """

    def __init__(self, predicate: Callable[[Any | None], bool]) -> None:
        self._predicate = predicate
        self._objects: dict[str, Any] = {}

    @property
    def last_seen(self) -> Any | None:
        """The most recently listed or changed object still selected, None when none is."""
        return next(reversed(self._objects.values()), None)

    def reset(self, items: Iterable[Any]) -> Any:
        self._objects = {item.metadata.uid: item for item in items}
        return self._first_match(list(self._objects.values()) or [None])

    def apply(self, event_type: str, obj: Any) -> Any:
        self._objects.pop(obj.metadata.uid, None)
        if event_type == "DELETED":
            return _NO_MATCH if self._objects else self._first_match([None])
        self._objects[obj.metadata.uid] = obj
        return self._first_match([obj])

    def _first_match(self, candidates: list[Any | None]) -> Any:
        return next((candidate for candidate in candidates if self._predicate(candidate)), _NO_MATCH)


def watch_until(
    list_func: Callable[..., Any],
    predicate: Callable[[Any | None], bool],
    *,
    timeout: float,
    expected: str,
    describe: Callable[[Any | None], str] = describe_object,
    new_watch: Callable[[], _Watch] = kubernetes.watch.Watch,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    **list_kwargs: Any,
) -> Any:
    """Wait until `predicate` holds for an object selected by `list_func(**list_kwargs)`.

    Select one object with `field_selector="metadata.name=..."` (with a namespaced list function)
    or several with a label selector; see `_Selection` for what the predicate is given. Returns the
    object that satisfied the predicate, or None when its absence did; waits `scaled(timeout)` at most.

    Lists first, then watches from the list's resourceVersion; a watch that ends before the
    deadline (the server's timeout) is re-established from the last resourceVersion seen, and 410
    Gone (that version is too old) leads to a fresh list. A transient failure of the list or the
    watch (`is_transient`) leads to a fresh list after a short pause, and is what was last seen
    until a list succeeds; any other API error propagates at once.
    """
    limit = scaled(timeout)
    deadline = clock() + limit
    selection = _Selection(predicate)
    backoff = _FIRST_BACKOFF
    while True:
        failure = None
        try:
            listed = list_func(_request_timeout=_list_timeout(deadline - clock()), **list_kwargs)
            match = selection.reset(listed.items)
            if match is _NO_MATCH:
                version = listed.metadata.resource_version
                match = _watch_from(version, selection, list_func, list_kwargs, new_watch, deadline, clock)
        except Exception as error:
            if not is_transient(error):
                raise
            failure, match = _error_text(error), _NO_MATCH
        if match is not _NO_MATCH:
            return match
        remaining = deadline - clock()
        if remaining <= 0:
            last_seen = _describe(lambda: describe(selection.last_seen)) if failure is None else failure
            raise WaitTimeout(expected, limit, last_seen)
        if failure is not None:
            sleep(min(backoff, remaining))
            backoff = min(2 * backoff, _MAX_BACKOFF)
        else:
            backoff = _FIRST_BACKOFF


def _list_timeout(remaining: float) -> float:
    """A list's request timeout: what the wait has left, within _MIN_LIST_TIMEOUT..scaled(REQUEST_TIMEOUT)."""
    return max(_MIN_LIST_TIMEOUT, min(remaining, scaled(REQUEST_TIMEOUT)))


def _watch_from(
    resource_version: str,
    selection: _Selection,
    list_func: Callable[..., Any],
    list_kwargs: dict[str, Any],
    new_watch: Callable[[], _Watch],
    deadline: float,
    clock: Clock,
) -> Any:
    """Follow events until a match, the deadline, or 410 Gone (then _NO_MATCH: list again)."""
    while (remaining := deadline - clock()) > 0:
        watch = new_watch()
        seconds = max(1, math.ceil(remaining))
        try:
            for event in watch.stream(
                list_func,
                resource_version=resource_version,
                timeout_seconds=seconds,
                _request_timeout=seconds + _READ_TIMEOUT_GRACE,
                **list_kwargs,
            ):
                obj = event["object"]
                resource_version = obj.metadata.resource_version
                match = selection.apply(event["type"], obj)
                if match is not _NO_MATCH or clock() >= deadline:
                    watch.stop()
                    return match
        except ApiException as error:
            if error.status != _HTTP_GONE:
                raise
            return _NO_MATCH
    return _NO_MATCH
