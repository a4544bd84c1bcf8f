"""The config checks that need the layers above config.py, and the loader that applies them.

A topic's keywords and query are valid when the matcher compiles them; a channel URL when apprise
accepts it. config.py cannot ask either without importing them (it is the bottom layer), so
``config.load`` takes these checks from its caller: every command and the daemon's reload load
the config through ``load_config`` here, and each problem still points at its line.
"""

from __future__ import annotations

import os

from monitor.config import Check, Config, load
from monitor.configfile import Loc


def channel_urls(cfg: Config) -> list[tuple[Loc, str]]:
    """Every channel URL apprise cannot use, with apprise's reason."""
    from monitor.alerts.send import check_url

    problems = []
    for i, channel in enumerate(cfg.channels):
        error = check_url(channel.url)
        if error:
            problems.append((("channels", i, "url"), error))
    return problems


def topic_queries(cfg: Config) -> list[tuple[Loc, str]]:
    """Compile every topic once, as the matcher will; point a bad query or term at its line."""
    from monitor.match import Matcher, QueryError

    try:
        Matcher(cfg.topics)
    except QueryError as exc:
        for i, topic in enumerate(cfg.topics):
            if topic.name != exc.topic:
                continue
            if exc.query in topic.keywords:
                return [(("topics", i, "keywords", topic.keywords.index(exc.query)), str(exc))]
            if exc.query in topic.exclude:
                return [(("topics", i, "exclude", topic.exclude.index(exc.query)), str(exc))]
            return [(("topics", i, "query"), str(exc))]
        return [(("topics",), str(exc))]
    return []


CHECKS: tuple[Check, ...] = (channel_urls, topic_queries)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """The config at ``path`` (else $MONITOR_CONFIG, else the default), fully checked."""
    return load(path, checks=CHECKS)
