"""systemd units inside a node: start, stop and restart that return only once systemd agrees."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from harness.interrupts import signals_held
from harness.node.shell import Shell
from harness.waiting import poll_until

DEFAULT_UNIT_TIMEOUT = 60.0
# Seconds between two probes of a unit's state (or of a service's own health) while it starts or
# stops: each probe is one `docker exec` of about 0.1 s, and a restart is over in about a second, so a
# longer interval would be most of what a test waits beyond the restart itself (`make bench`).
UNIT_POLL = 0.1


@dataclass(frozen=True)
class UnitState:
    active_state: str
    sub_state: str
    main_pid: int | None

    @property
    def running(self) -> bool:
        # "active" alone is not enough: only "active (running)" with a MainPID means the main
        # process is up (not still in ExecStartPre, not exiting, not a oneshot that finished).
        return self.active_state == "active" and self.sub_state == "running" and self.main_pid is not None

    @property
    def stopped(self) -> bool:
        return self.active_state in ("inactive", "failed") and self.main_pid is None

    def __str__(self) -> str:
        return f"ActiveState={self.active_state} SubState={self.sub_state} MainPID={self.main_pid or 0}"


@contextmanager
def stopped_for_body(
    node: Shell, what: str, stop: Callable[[], object], start: Callable[[], object]
) -> Iterator[None]:
    """stop(), the body, then start() whatever happens (also when stopping fails or is interrupted):
    under held signals, so that a Ctrl-C cannot leave it stopped; not on a node that is gone."""
    try:
        stop()
        yield
    finally:
        with signals_held(f"starting {what} on {node.name} again"):
            if not node.gone():
                start()


class Service:
    """One systemd unit inside a node (`name` as systemctl takes it: "kubelet", "containerd")."""

    def __init__(self, node: Shell, name: str) -> None:
        self.node = node
        self.name = name

    def __repr__(self) -> str:
        return f"Service({self.node.name}:{self.name})"

    def state(self) -> UnitState:
        output = self.node.run("systemctl", "show", "-p", "ActiveState,SubState,MainPID", self.name).stdout
        values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        main_pid = int(values.get("MainPID", "0"))
        return UnitState(values.get("ActiveState", ""), values.get("SubState", ""), main_pid or None)

    @property
    def main_pid(self) -> int | None:
        return self.state().main_pid

    def stop(self, timeout: float = DEFAULT_UNIT_TIMEOUT) -> UnitState:
        self._systemctl("stop")
        return self._wait(lambda state: state.stopped, "stopped", timeout)

    def start(self, timeout: float = DEFAULT_UNIT_TIMEOUT) -> UnitState:
        self._systemctl("start")
        return self._wait(lambda state: state.running, "running", timeout)

    def restart(self, timeout: float = DEFAULT_UNIT_TIMEOUT) -> UnitState:
        """Restart and return once a new main process runs (a different MainPID from before)."""
        before = self.main_pid
        self._systemctl("restart")
        return self._wait(
            lambda state: state.running and state.main_pid != before,
            f"running with a MainPID other than {before}",
            timeout,
        )

    def stopped(self, timeout: float = DEFAULT_UNIT_TIMEOUT) -> AbstractContextManager[None]:
        """The unit stopped for the body; started again afterwards, whatever happens."""
        return stopped_for_body(self.node, self.name, lambda: self.stop(timeout), lambda: self.start(timeout))

    def _systemctl(self, verb: str) -> None:
        # --no-block: systemctl only queues the job; the bounded wait below is what decides.
        self.node.run("systemctl", "--no-block", verb, self.name)

    def _wait(self, wanted: Callable[[UnitState], bool], description: str, timeout: float) -> UnitState:
        def probe() -> UnitState | None:
            state = self.state()
            return state if wanted(state) else None

        return poll_until(
            probe,
            timeout=timeout,
            expected=f"{self.name} on {self.node.name} {description}",
            describe=lambda: str(self.state()),
            interval=UNIT_POLL,
        )
