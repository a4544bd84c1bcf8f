"""Mirror the config's sources and topics into their tables (by name), keeping history."""

from __future__ import annotations

import logging
import shlex

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.config import Config, TopicConfig
from monitor.dates import utcnow
from monitor.db.models import Source, Topic
from monitor.urls import redact_text, redact_url

log = logging.getLogger(__name__)


def topic_definition(topic: TopicConfig) -> dict:
    """The part of a topic that decides what it matches (stored to notice edits).

    ``sources`` and ``languages`` appear only when set, so definitions stored before those
    filters existed still compare equal.
    """
    definition = topic.model_dump(include={"keywords", "query", "exclude"})
    for key in ("sources", "languages"):
        if getattr(topic, key) is not None:
            definition[key] = list(getattr(topic, key))
    return definition


def store_topic(session: Session, topic: TopicConfig, *, definition: bool = False) -> int:
    """The id of the topic's row, created (with its current definition) when missing. With
    ``definition``, the stored definition becomes the current one (its matches were recomputed)."""
    row = session.scalars(select(Topic).where(Topic.name == topic.name)).first()
    if row is None:
        row = Topic(name=topic.name, definition=topic_definition(topic))
        session.add(row)
        session.flush()
    elif definition:
        row.definition = topic_definition(topic)
        row.updated_at = utcnow()
    return row.id


def sync_config(session: Session, config: Config) -> tuple[dict[str, int], dict[str, int]]:
    """Upsert a row per configured source and topic; return name → id maps for both.

    A source's row keeps its URL as ``urls.redact_url`` shows it (no user-info, no key): a change
    of credentials alone is not a new address.

    Rows of sources or topics removed from the config are kept (their articles and matches
    stay visible); they are simply no longer polled or matched. A topic whose definition changed
    keeps its stored definition (and matches), with a warning: ``monitor topics rematch NAME``
    recomputes them.
    """
    sources = {s.name: s for s in session.scalars(select(Source))}
    for cfg in config.sources:
        row = sources.get(cfg.name)
        shown = redact_url(cfg.url)  # credentials and keys stay in the config
        if row is None:
            row = Source(name=cfg.name, kind=cfg.kind, url=shown, consecutive_failures=0)
            session.add(row)
            sources[cfg.name] = row
        elif row.kind != cfg.kind or redact_url(row.url) != shown:
            # A new address: forget validators, hash, failures and a "410 Gone" of the old one.
            row.kind, row.url = cfg.kind, shown
            row.etag = row.last_modified = row.content_hash = None
            row.disabled_at = row.disabled_reason = None
            row.consecutive_failures, row.next_poll_at = 0, None
        elif row.url != shown:  # stored in full by an older version: keep its state, not its secrets
            row.url = shown
            row.last_error = redact_text(row.last_error) if row.last_error else None
            row.disabled_reason = redact_text(row.disabled_reason) if row.disabled_reason else None
    topics = {t.name: t for t in session.scalars(select(Topic))}
    for cfg in config.topics:
        definition = topic_definition(cfg)
        row = topics.get(cfg.name)
        if row is None:
            row = Topic(name=cfg.name, definition=definition)
            session.add(row)
            topics[cfg.name] = row
        elif row.definition != definition:
            # The stored definition is the one the stored matches were computed with: keep it
            # until `monitor topics rematch` recomputes them. New articles use the new one.
            log.warning(
                "topic %r changed since its matches were computed; run `monitor topics rematch %s`",
                cfg.name,
                shlex.quote(cfg.name),
            )
    session.flush()
    return (
        {c.name: sources[c.name].id for c in config.sources},
        {c.name: topics[c.name].id for c in config.topics},
    )
