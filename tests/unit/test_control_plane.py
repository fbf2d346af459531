"""harness.staticpods.control_plane: whether the API server answers ready, with a fake API client."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError

from harness.staticpods.control_plane import api_server_ready, wait_api_server
from harness.waiting import WaitTimeout


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status

    def read(self) -> bytes:
        return b"ok"


class FakeApi:
    """Answers GET /readyz with `outcome`: a status code, or an exception to raise."""

    def __init__(self, outcome: int | Exception) -> None:
        self.outcome = outcome
        self.requests: list[tuple[str, str]] = []

    def param_serialize(self, method: str, resource_path: str, **_: Any) -> tuple[Any, ...]:
        return method, f"https://api{resource_path}", {}, None, []

    def call_api(self, method: str, url: str, **_: Any) -> FakeResponse:
        self.requests.append((method, url))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return FakeResponse(self.outcome)


@pytest.mark.parametrize(
    ("outcome", "ready"),
    [
        (200, True),
        (500, False),
        (ApiException(status=503), False),
        (MaxRetryError(None, "/readyz", "connection refused"), False),  # type: ignore[arg-type]
        (ConnectionRefusedError(), False),
    ],
)
def test_api_server_is_ready_only_when_readyz_answers_200(outcome: int | Exception, ready: bool) -> None:
    api = FakeApi(outcome)
    assert api_server_ready(api) is ready  # type: ignore[arg-type]
    assert api.requests == [("GET", "https://api/readyz")]


def test_waiting_for_the_api_server_down_says_so_on_timeout() -> None:
    with pytest.raises(
        WaitTimeout, match=r"expected the API server down \(not answering /readyz\) within 0s"
    ):
        wait_api_server(FakeApi(200), ready=False, timeout=0)  # type: ignore[arg-type]
    wait_api_server(FakeApi(ConnectionRefusedError()), ready=False, timeout=0)  # type: ignore[arg-type]
