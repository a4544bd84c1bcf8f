"""Backfill: what each source published in a past date range, through the live pipeline.

``monitor backfill --from DATE --to DATE`` finds past articles per source, stores and matches them
exactly as live polling does (politeness, robots.txt, extraction, dedupe by canonical URL against
everything stored, matching, story clustering), marks them ``origin='backfill'``, and alerts only
when asked.

**Discovery**, per source, in this order (:func:`discover_past`):

1. *sitemaps*: the source's ``sitemap:``, else those robots.txt lists, else ``/sitemap.xml``
   (then ``/sitemap_index.xml``, ``/wp-sitemap.xml``). Indexes are walked (depth and count
   limits); a child sitemap whose ``lastmod`` is before the range, or whose URL names a month or
   day before it, is not fetched (nothing in it changed since).
2. *paginated HTML listing* (``html:`` sources): the page, then its next page (``rel=next``, a
   "Next / Suivant / التالي / › / »" link, or a ``/page/N+1`` / ``?page=N+1`` link), until a page
   brings no date in the range or after it while some are before it, no new link, or the page cap.
3. *paginated feed* (``feed:`` sources): the feed, then ``?paged=2, 3 …`` (WordPress), until a
   404 or error, an empty page, a page repeating earlier entries, or a page with entries older
   than the range.

The first method that finds candidates and reaches back to the start of the range is used; one
that finds candidates but only recent ones (a news sitemap holds two days) is completed by the
next. The summary names the method(s) and the candidate count.

**Dates.** The range is inclusive and read in the config's ``timezone`` (``--to`` a bare date is
the end of that day). An exact date (a feed entry's, a news sitemap's publication date) decides
at discovery, and is stored as the article's date (it beats the page's, as in live polling). A
``lastmod`` only excludes a URL modified before the range began (published ≤ modified). Dates
shown next to links on a listing page and dates in URL paths (``/2025/07/03/``) are approximate:
they exclude a URL only when more than a day off the range. Everything else is a candidate whose
page date decides after the fetch: out of range, it is set aside (status ``out_of_range``, the date
kept, so a later backfill of a wider range takes it again); with no date at all (feed, sitemap,
page), it is set aside as ``undated`` and counted so (a backfill cannot say it is in the range).

**Resumable and idempotent.** Candidates are stored (``monitor.pipeline.store``, origin ``backfill``,
deduplicated against live and earlier backfill rows) before any page is fetched; each article is
then processed in its own transaction. Interrupted and run again, the backfill re-discovers
(cheap, deduplicated) and processes the backfill rows still pending, so it ends as an uninterrupted
run would. Live polling never processes a backfill's pending rows (it would alert them); it takes
back a row whose URL it discovers itself.

**Topics.** Articles are matched against every topic, or only the ``--topic`` ones: the matcher
of the run holds just those, and only their matches are stored (a later backfill of the range
with other topics, or ``monitor topics rematch``, fills in the others). Articles already stored with a date in the range (by live polling or an
earlier backfill) are matched again for the run's topics, adding only the matches they lack, so a
topic added today finds last month's stored articles too. With ``--topic`` and no ``--source``,
the sources are those the topics are restricted to (``sources:``), or all.

**Alerts.** Outbox rows of a backfill are ``skipped`` (never sent by the daemon). With
``--notify``, at the end, every skipped row of the run's sources, topics and range goes out as ONE
digest message per channel (grouped by topic then story; more than 500 stories take several
messages), and the rows are marked sent; that includes the rows of an earlier run of the range
without ``--notify`` or interrupted (``monitor.backfill.digest``). A story already alerted gets no
row at all (one row per topic, story and channel), so nothing is sent for it.

**Limits** (:class:`Limits`): sitemap nesting and file count, listing and feed pages, candidates
per source. A sitemap without any date makes every URL it lists a candidate (their pages decide):
thorough, but as slow as the site's politeness allows.
"""

from monitor.backfill.digest import send_backfill_digests
from monitor.backfill.discover import Discovery, Limits, discover_past
from monitor.backfill.progress import LogProgress, Progress, RichProgress
from monitor.backfill.run import run_backfill, select_sources, select_topics
from monitor.backfill.summary import BackfillReport, DigestOutcome, SourceSummary

__all__ = [
    "BackfillReport",
    "DigestOutcome",
    "Discovery",
    "Limits",
    "LogProgress",
    "Progress",
    "RichProgress",
    "SourceSummary",
    "discover_past",
    "run_backfill",
    "select_sources",
    "select_topics",
    "send_backfill_digests",
]
