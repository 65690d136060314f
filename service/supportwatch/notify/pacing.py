"""Pacing sends per channel (Slack allows about one message a second to a channel).

Apart from ``slack.py`` so that wiring a service with no Slack receiver loads no Slack client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most ``rate`` sends per second per channel key; ``clock`` and ``sleep`` are injectable.

    Thread-safe: channels are sent to at once, each waiting only for its own turn.
    """

    def __init__(
        self,
        rate: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def ready(self, channel: str) -> None:
        """Block until ``channel`` may take another message, without booking the slot (the
        sender paces itself before it takes a place among the concurrent sends)."""
        while True:
            with self._lock:
                now = self.clock()
                ready = self._next.get(channel, now)
            if ready <= now:
                return
            self.sleep(ready - now)

    def wait(self, channel: str) -> None:
        """Block until ``channel`` may take another message, and book that slot (from the moment
        it is taken: a sleep that overshoots never shortens the next interval)."""
        while True:
            with self._lock:
                now = self.clock()
                ready = self._next.get(channel, now)
                if ready <= now:
                    self._next[channel] = now + self.interval
                    return
            self.sleep(ready - now)
