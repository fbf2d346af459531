"""ReadyWatch (harness/staticpods/ready_watch.py) across an API server that denies for a while."""

from __future__ import annotations

import time
from types import SimpleNamespace as NS
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from harness.staticpods import ready_watch
from harness.staticpods.ready_watch import ReadyWatch


class FakeCore:
    def list_namespaced_pod(self, namespace: str, label_selector: str) -> Any:
        return NS(items=[], metadata=NS(resource_version="1"))


def watch_denying(times: int) -> type:
    """A kubernetes.watch.Watch whose first `times` streams are denied (403), and the rest are empty."""
    denied = {"left": times}

    class Watch:
        def stream(self, *args: Any, **kwargs: Any) -> Any:
            if denied["left"]:
                denied["left"] -= 1
                raise ApiException(status=403, reason="Forbidden")
            time.sleep(0.01)
            return iter(())

    return Watch


@pytest.mark.parametrize("denials, error", [(3, None), (10**6, "still denied when it stopped")])
def test_a_denied_watch_lists_again_and_is_an_error_only_if_still_denied_at_the_end(
    monkeypatch: pytest.MonkeyPatch, denials: int, error: str | None
) -> None:
    """A new API server serves before its authorizer synced (403) while the kubelet replaces it."""
    monkeypatch.setattr(ready_watch, "new_api_client", lambda kubeconfig: None)
    monkeypatch.setattr(ready_watch, "_RETRY_SECONDS", 0.01)
    monkeypatch.setattr(ready_watch.kubernetes.watch, "Watch", watch_denying(denials))
    watch = ReadyWatch("kubeconfig", "default", "app=x")  # type: ignore[arg-type]
    watch.core = FakeCore()  # type: ignore[assignment]

    with watch.running():
        time.sleep(0.3)

    assert (watch.error is None) if error is None else (error in (watch.error or ""))
