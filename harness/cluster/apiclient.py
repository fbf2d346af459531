"""The harness's Kubernetes API client: every request bounded in time, transient failures retried.

Two layers deal with a flaky API server. urllib3 retries one request (a refused connection, a 429
or 5xx answer to an idempotent method) within a few seconds; the waits in `harness.waiting` retry
what is still failing after that until their own deadline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes.client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import RESTResponse
from urllib3.util import Retry

from harness.waiting import REQUEST_TIMEOUT, scaled

# Retries of one request. POST and PATCH are not idempotent, so only their connection failures (the
# request was not sent) are retried; a read that timed out is not (each attempt may take the whole
# request timeout: the wait that asked retries within its own deadline). Backoff between attempts:
# 0 s, 1 s, 2 s at most; a Retry-After header is not obeyed, so no answer can stretch a wait.
RETRIES = Retry(
    total=5,
    connect=3,
    read=0,
    status=3,
    backoff_factor=0.5,
    backoff_max=2,
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,
    respect_retry_after_header=False,
    raise_on_status=False,
)


class BoundedApiClient(k8s.ApiClient):
    """An ApiClient whose requests that set no `_request_timeout` get `scaled(REQUEST_TIMEOUT)`.

    Every request goes through `call_api` (the generated API methods, watches and raw requests
    alike); watches set their own timeout, longer than the server's, and keep it.
    """

    def call_api(
        self,
        method: str,
        url: str,
        header_params: dict[str, str] | None = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> RESTResponse:
        return super().call_api(
            method,
            url,
            header_params=header_params,
            body=body,
            post_params=post_params,
            _request_timeout=_request_timeout or scaled(REQUEST_TIMEOUT),
        )


def new_api_client(kubeconfig: Path) -> k8s.ApiClient:
    """A client for the cluster of `kubeconfig`, with request timeouts and `RETRIES`.

    This is `kubernetes.config.new_client_from_config` with a BoundedApiClient in place of the plain
    ApiClient it returns; the retries must be on the configuration before the client is made, since
    the client hands them to its connection pool then.
    """
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.retries = RETRIES
    return BoundedApiClient(configuration)
