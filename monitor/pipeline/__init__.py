"""The pipeline: poll a source, process its articles, store what they yield.

The units of work are plain functions over the runtime and database sessions, so the daemon,
``run --once``, backfill and (later) distributed workers run the same code:

- ``poll``: one source: fetch, discover, store candidates, record the poll, process due articles.
- ``article``: one pending article: fetch its page, extract, match, store (or record why not).
- ``pending``: the queue of pending articles (due live rows, a backfill's rows).
- ``store``: every write to an article row: candidates (dedupe, adoption) and state transitions;
  article + story + matches + outbox in ONE transaction.
- ``matches``: the one writer of match rows, and the one loop that re-matches stored articles.
- ``policy``: the decisions (retry, backoff, Retry-After, set-aside, dedupe), as pure functions.
"""

from monitor.dates import DateRange  # a backfill's range: re-exported for callers of the old module
from monitor.pipeline.article import process_article
from monitor.pipeline.matches import RematchCounts, record_matches, rematch_stored
from monitor.pipeline.pending import PendingArticle, backfill_pending, due_articles, load_pending
from monitor.pipeline.policy import RETRY_AFTER_MAX
from monitor.pipeline.poll import PollReport, discover, poll_all, poll_source, process_articles
from monitor.pipeline.store import reopen, store_article, store_candidates

__all__ = [
    "DateRange",
    "RETRY_AFTER_MAX",
    "PendingArticle",
    "PollReport",
    "RematchCounts",
    "backfill_pending",
    "discover",
    "due_articles",
    "load_pending",
    "poll_all",
    "poll_source",
    "process_article",
    "process_articles",
    "record_matches",
    "rematch_stored",
    "reopen",
    "store_article",
    "store_candidates",
]
