"""Per-host politeness: bounded concurrency, a minimum delay between request starts, pauses.

One ``HostGate`` is shared by every request of a process, so a host never sees more than
``concurrency`` requests at once nor two request starts closer than its delay, whichever source,
article or backfill asked. ``pause`` holds a host (for a Retry-After) without failing anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Host:
    slots: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0  # monotonic time before which no request may start
    paused_until: float = 0.0  # a Retry-After: holds requests already waiting for their turn too
    delay: float | None = None  # this host's own delay (robots.txt Crawl-delay), if longer


class HostGate:
    """At most ``concurrency`` requests in flight per host, starts at least ``delay`` s apart."""

    def __init__(self, concurrency: int = 2, delay: float = 1.0, *, max_delay: float = 60.0) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.delay = max(0.0, delay)
        self.max_delay = max_delay
        self._hosts: dict[str, _Host] = {}

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(asyncio.Semaphore(self.concurrency))
        return state

    def set_delay(self, host: str, seconds: float | None) -> None:
        """A host's own delay (e.g. robots.txt Crawl-delay), capped at ``max_delay``; never below
        the gate's default delay."""
        self._host(host).delay = None if seconds is None else min(self.max_delay, max(0.0, seconds))

    def delay_for(self, host: str) -> float:
        own = self._host(host).delay
        return max(self.delay, own or 0.0)

    def pause(self, host: str, seconds: float) -> None:
        """Hold every new request to ``host`` for ``seconds`` (Retry-After); capped at an hour."""
        state = self._host(host)
        until = time.monotonic() + min(max(0.0, seconds), 3600.0)
        state.paused_until = max(state.paused_until, until)
        state.next_start = max(state.next_start, until)

    def paused_for(self, host: str) -> float:
        """Seconds until a request to ``host`` may start (0 when it may start now)."""
        state = self._hosts.get(host)
        return max(0.0, state.next_start - time.monotonic()) if state else 0.0

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a free slot and for the host's delay, then run the request inside."""
        state = self._host(host)
        async with state.slots:
            while True:
                async with state.lock:
                    now = time.monotonic()
                    start = max(now, state.next_start)
                    state.next_start = start + self.delay_for(host)
                if start > now:
                    await asyncio.sleep(start - now)
                if state.paused_until <= time.monotonic():
                    break
                # A Retry-After paused the host while this request waited: take a turn after it.
            yield
