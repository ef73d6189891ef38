"""A heartbeat: while a send runs, a daemon thread renews its attempt's lease in the ledger, so a
live attempt holds its endpoint however long a request takes, and a dead one (SIGKILL, a lost
machine) stops renewing and frees the endpoint within one lease."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType


class Heartbeat:
    def __init__(
        self, beat: Callable[[], None], every_s: float, log: Callable[[str], None]
    ) -> None:
        self.beat = beat
        self.every_s = every_s
        self.log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.beat()
            except Exception as exc:  # a missed beat is logged; the next one tries again
                self.log(f"heartbeat failed (the attempt's lease may lapse): {exc}")
