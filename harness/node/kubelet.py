"""The kubelet of one node: its effective configuration, its health, its journal, its lifecycle.

The configuration is read the way the kubelet reads it: the file named by the running kubelet's
`--config` flag, with command-line flags taking precedence over the file. Nothing here assumes
where static pod manifests live: `static_pod_path()` is what this kubelet was told, or None.

The journal is read as journald's JSON, each entry with its own receive time to the microsecond:
`journalctl --since` takes whole seconds, so the entries are filtered again on that time, and a
line logged just before a test's action never stands for what the action caused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import yaml

from harness.errors import HarnessError
from harness.interrupts import signals_held
from harness.node.files import NodeFile
from harness.node.shell import Shell
from harness.node.systemd import DEFAULT_UNIT_TIMEOUT, UNIT_POLL, Service, UnitState, stopped_for_body
from harness.node.transport import NodeFileNotFound
from harness.waiting import poll_until, scaled

UNIT = "kubelet"
# Where kubeadm (and so kind) writes the kubelet's config; used only when no running kubelet says.
DEFAULT_CONFIG_PATH = "/var/lib/kubelet/config.yaml"
# The kubelet's own defaults (pkg/kubelet/apis/config/v1beta1/defaults.go).
DEFAULT_FILE_CHECK_FREQUENCY = "20s"
DEFAULT_SYNC_FREQUENCY = "1m"
DEFAULT_HEALTHZ_BIND_ADDRESS = "127.0.0.1"
DEFAULT_HEALTHZ_PORT = 10248
_HEALTHZ_REQUEST_SECONDS = 5

_GO_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go takes both the micro sign (U+00B5) and the Greek mu (U+03BC)
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
# journalctl --since value for the whole journal the node kept.
WHOLE_JOURNAL = "@0"
# journald's JSON fields a journal line is made of (its receive time always comes with them).
_JOURNAL_FIELDS = "MESSAGE,SYSLOG_IDENTIFIER,_PID"
# Seconds between two reads of the journal while waiting for a line in it.
_JOURNAL_POLL_INTERVAL = 2.0
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string ("20s", "1m0s", "1h2m3.5s", "300ms"), as time.ParseDuration."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    if body.startswith(("+", "-")):
        body = body[1:]
    if body == "0":
        return 0.0
    parts = _GO_DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"not a Go duration: {text!r}")
    return sign * sum(float(number) * _GO_DURATION_UNITS[unit] for number, unit in parts)


def flag_value(argv: list[str], name: str) -> str | None:
    """The value of `--name=value` or `--name value` in a command line (the last one wins, as in pflag)."""
    value = None
    for index, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
        elif arg == f"--{name}" and index + 1 < len(argv):
            value = argv[index + 1]
    return value


def changed_config(config: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with `changes` applied: a value replaces the field, None removes it."""
    updated = dict(config)
    for key, value in changes.items():
        if value is None:
            updated.pop(key, None)
        else:
            updated[key] = value
    return updated


class JournalEntry(NamedTuple):
    when: datetime  # journald's receive time (microseconds), not the klog header (which has no year)
    process: str  # "kubelet[1234]", or systemd's lines about the unit
    message: str

    def line(self) -> str:
        return f"{self.when.isoformat(timespec='microseconds')} {self.process}: {self.message}"


def _journal_entry(fields: Mapping[str, Any]) -> JournalEntry:
    message = fields.get("MESSAGE")
    if isinstance(message, list):  # journald's form of a message that is not UTF-8: its bytes
        message = bytes(message).decode(errors="replace")
    pid = fields.get("_PID")
    process = str(fields.get("SYSLOG_IDENTIFIER") or UNIT) + (f"[{pid}]" if pid else "")
    when = datetime.fromtimestamp(int(fields["__REALTIME_TIMESTAMP"]) / 1e6, UTC)
    return JournalEntry(when, process, str(message or ""))


def _config_path(argv: list[str]) -> str:
    return flag_value(argv, "config") or DEFAULT_CONFIG_PATH


class Kubelet:
    def __init__(self, node: Shell) -> None:
        self.node = node
        self.service = Service(node, UNIT)
        # The argv last seen running: a stopped kubelet's flags (--pod-manifest-path, --config)
        # are nowhere else to be read, and it starts again with the same ones.
        self._last_argv: list[str] = []

    def __repr__(self) -> str:
        return f"Kubelet({self.node.name})"

    def pid(self) -> int | None:
        return self.service.main_pid

    def command_line(self) -> list[str]:
        """The running kubelet's argv; while it is stopped, the argv it last ran with (empty when
        it was never seen running)."""
        pid = self.pid()
        if pid is None:
            return self._last_argv
        try:
            raw = NodeFile(self.node, f"/proc/{pid}/cmdline").read_bytes()
        except NodeFileNotFound:  # it exited between the two reads
            return self._last_argv
        self._last_argv = raw.decode().rstrip("\0").split("\0")
        return self._last_argv

    def config_path(self) -> str:
        return _config_path(self.command_line())

    def config(self) -> dict[str, Any]:
        """The KubeletConfiguration file as a dict (flags given on the command line not merged in)."""
        return self._config_at(self.command_line())

    def static_pod_path(self) -> str | None:
        """Where this kubelet reads static pod manifests from; None when it reads none."""
        argv = self.command_line()
        flag = flag_value(argv, "pod-manifest-path")
        path = flag if flag is not None else self._config_at(argv).get("staticPodPath")
        return path or None

    def file_check_frequency(self) -> float:
        """Seconds between the kubelet's re-reads of the manifest path (besides inotify)."""
        return self._duration("file-check-frequency", "fileCheckFrequency", DEFAULT_FILE_CHECK_FREQUENCY)

    def sync_frequency(self) -> float:
        """Seconds between the kubelet's periodic syncs of each pod (each pod worker re-syncs after
        this interval plus up to half of it again as jitter)."""
        return self._duration("sync-frequency", "syncFrequency", DEFAULT_SYNC_FREQUENCY)

    def _duration(self, flag: str, field: str, default: str) -> float:
        """A duration setting in seconds: the flag, else the config file's field, else the default.
        Zero means unset: the kubelet's defaulting replaces it (kubeadm writes `fileCheckFrequency: 0s`)."""
        argv = self.command_line()
        given = flag_value(argv, flag)
        value = given if given is not None else self._config_at(argv).get(field)
        return parse_go_duration(value or default) or parse_go_duration(default)

    def read_only_pods(self, port: int) -> list[dict[str, Any]]:
        """The pods this kubelet itself says it runs: GET /pods on its read-only port, from inside the
        node (no API server involved; the port must be enabled, see readOnlyPort)."""
        limit = f"{scaled(_HEALTHZ_REQUEST_SECONDS):g}"
        answer = self.node.run("curl", "-sf", "--max-time", limit, f"http://127.0.0.1:{port}/pods")
        return json.loads(answer.stdout).get("items") or []  # "items": null while it runs none

    def _entries(self, since: datetime | str) -> list[JournalEntry]:
        """The journal entries since `since` (as for journal)."""
        when = f"@{int(since.timestamp())}" if isinstance(since, datetime) else since
        output = self.node.run(
            "journalctl", "-u", UNIT, "--since", when, "--no-pager", "--all",
            "-o", "json", f"--output-fields={_JOURNAL_FIELDS}",
        ).stdout  # fmt: skip
        entries = [_journal_entry(json.loads(line)) for line in output.splitlines() if line.strip()]
        return [e for e in entries if e.when >= since] if isinstance(since, datetime) else entries

    def journal(self, since: datetime | str) -> str:
        """The kubelet's journal since a moment (a datetime, to the microsecond, or any --since form
        journalctl takes), a line per entry: its time, its process, its message."""
        return "".join(entry.line() + "\n" for entry in self._entries(since))

    def log_times(self, since: datetime, *fragments: str) -> list[datetime]:
        """When the kubelet logged each journal line since `since` that has every fragment, in order."""
        return [e.when for e in self._entries(since) if all(f in e.message for f in fragments)]

    def wait_for_log(self, since: datetime | str, *fragments: str, timeout: float) -> str:
        """The first journal line since `since` (as for journal) with every fragment, once there is one."""

        def probe() -> str | None:
            entries = self._entries(since)
            return next((e.line() for e in entries if all(f in e.message for f in fragments)), None)

        return poll_until(
            probe,
            timeout=timeout,
            interval=_JOURNAL_POLL_INTERVAL,
            expected=f"a kubelet log line on {self.node.name} containing {list(fragments)}",
        )

    def healthz(self) -> bool:
        return self._healthy(self._healthz_url())

    def stop(self, timeout: float = DEFAULT_UNIT_TIMEOUT) -> UnitState:
        self.command_line()  # remembered, so that its staticPodPath is known while it is stopped
        return self.service.stop(timeout)

    def start(self, timeout: float = DEFAULT_UNIT_TIMEOUT) -> UnitState:
        state = self.service.start(timeout)
        self._wait_healthy(timeout)
        return state

    def restart(self, timeout: float = DEFAULT_UNIT_TIMEOUT) -> UnitState:
        """Restart; return once a new kubelet process runs and answers healthz."""
        state = self.service.restart(timeout)
        self._wait_healthy(timeout)
        return state

    def stopped(self, timeout: float = DEFAULT_UNIT_TIMEOUT) -> AbstractContextManager[None]:
        """The kubelet stopped for the body; started again (and healthy) afterwards, whatever happens
        (also when stopping it fails or is interrupted)."""
        return stopped_for_body(
            self.node, "the kubelet", lambda: self.stop(timeout), lambda: self.start(timeout)
        )

    @contextmanager
    def reconfigured(
        self, changes: Mapping[str, Any], timeout: float = DEFAULT_UNIT_TIMEOUT
    ) -> Iterator[None]:
        """The kubelet restarted with fields of its config file changed (see changed_config).

        The file's original bytes and mode are put back and the kubelet restarted again afterwards,
        also when the body or the first restart fails. Flags on the command line still take
        precedence over the file.
        """
        config_file = NodeFile(self.node, self.config_path())
        original, mode = config_file.read_bytes(), config_file.mode
        try:
            config_file.write_bytes(
                yaml.safe_dump(changed_config(self.config(), changes), sort_keys=False).encode(), mode
            )
            self.restart(timeout)
            yield
        finally:
            with signals_held(f"putting the kubelet's config on {self.node.name} back"):
                if not self.node.gone():
                    config_file.write_bytes(original, mode)
                    self.restart(timeout)

    def _config_at(self, argv: list[str]) -> dict[str, Any]:
        path = _config_path(argv)
        loaded = yaml.safe_load(NodeFile(self.node, path).read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise HarnessError(f"{self.node.name}:{path} is not a KubeletConfiguration mapping")
        return loaded or {}

    def _healthz_url(self) -> str:
        config = self.config()
        address = config.get("healthzBindAddress") or DEFAULT_HEALTHZ_BIND_ADDRESS
        port = config.get("healthzPort", DEFAULT_HEALTHZ_PORT)
        host = f"[{address}]" if ":" in address else address
        return f"http://{host}:{port}/healthz"

    def _healthy(self, url: str) -> bool:
        limit = f"{scaled(_HEALTHZ_REQUEST_SECONDS):g}"
        return self.node.run("curl", "-sf", "--max-time", limit, url, check=False).ok

    def _wait_healthy(self, timeout: float) -> None:
        url = self._healthz_url()
        poll_until(
            lambda: self._healthy(url),
            timeout=timeout,
            expected=f"the kubelet on {self.node.name} to answer {url}",
            interval=UNIT_POLL,
        )
