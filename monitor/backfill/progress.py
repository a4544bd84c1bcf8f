"""Backfill progress: a rich progress bar per source on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from monitor.backfill.summary import SourceSummary

log = logging.getLogger("monitor.backfill")


class Progress:
    """Receives the backfill's progress; this base class ignores it."""

    def start(self, sources: Sequence[str]) -> None: ...

    def discovered(self, summary: SourceSummary, pending: int) -> None: ...

    def article(self, summary: SourceSummary) -> None: ...

    def finished(self, summary: SourceSummary) -> None: ...

    def close(self) -> None: ...


class LogProgress(Progress):
    """Plain log lines (for logs and pipes): discovery, every ``every`` pages, and the end."""

    def __init__(self, every: int = 50, interval: float = 30.0) -> None:
        self.every, self.interval = every, interval
        self._last: dict[str, float] = {}

    def discovered(self, summary: SourceSummary, pending: int) -> None:
        log.info(
            "backfill %r: %s found %d candidate URLs (%d new, %d already known); %d pages to fetch",
            summary.source, summary.method, summary.candidates, summary.new, summary.known, pending,
        )  # fmt: skip
        for error in summary.errors:
            log.warning("backfill %r: %s", summary.source, error)
        self._last[summary.source] = time.monotonic()

    def article(self, summary: SourceSummary) -> None:
        now = time.monotonic()
        if summary.fetched % self.every == 0 or now - self._last.get(summary.source, 0) >= self.interval:
            self._last[summary.source] = now
            log.info(
                "backfill %r: %d fetched, %d in range, %d matched, %d errors",
                summary.source, summary.fetched, summary.in_range, summary.matched, summary.error_count,
            )  # fmt: skip

    def finished(self, summary: SourceSummary) -> None:
        log.info(
            "backfill %r done: %d in range (%d matched), %d out of range, %d undated, %d errors",
            summary.source, summary.in_range, summary.matched, summary.out_of_range, summary.undated,
            summary.error_count,
        )  # fmt: skip


class RichProgress(Progress):
    """One rich progress bar per source (for a terminal): pages fetched of those to fetch, with the
    discovered, matched and error counts."""

    def __init__(self, console=None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        self._bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[dim]{task.fields[method]}[/] discovered {task.fields[discovered]} · "
                "matched {task.fields[matched]} · errors {task.fields[errors]}"
            ),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, int] = {}

    def start(self, sources: Sequence[str]) -> None:
        self._bars.start()
        for name in sources:
            self._tasks[name] = self._bars.add_task(
                name, total=None, method="discovering…", discovered=0, matched=0, errors=0
            )

    def _update(self, summary: SourceSummary, **extra) -> None:
        self._bars.update(
            self._tasks[summary.source],
            completed=summary.fetched,
            method=summary.method,
            discovered=summary.candidates,
            matched=summary.matched,
            errors=summary.error_count,
            **extra,
        )

    def discovered(self, summary: SourceSummary, pending: int) -> None:
        self._update(summary, total=pending)

    def article(self, summary: SourceSummary) -> None:
        self._update(summary)

    def finished(self, summary: SourceSummary) -> None:
        self._update(summary, total=summary.fetched)

    def close(self) -> None:
        self._bars.stop()
