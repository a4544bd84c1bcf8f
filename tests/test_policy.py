"""The pipeline's decisions (monitor.pipeline.policy) and the publication date choice, without a
database or a network: retry, backoff, Retry-After, set-aside, dedupe by canonical URL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from monitor.dates import DateRange, publication
from monitor.db.models import ArticleStatus
from monitor.fetch.http import FetchResult
from monitor.pipeline import policy

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def seconds(moment: datetime) -> float:
    return (moment - NOW).total_seconds()


def result(status: int, *, error: str | None = None, robots: str | None = None) -> FetchResult:
    url = "https://news.example/feed"
    unset = dict.fromkeys(("body", "etag", "last_modified", "content_hash"))
    return FetchResult(url, url, status, {}, **unset, error=error, robots=robots)


def test_backoff_doubles_from_its_base_up_to_its_cap_with_ten_percent_jitter():
    rng = random.Random(7)
    for attempts, expected in [(1, 120), (2, 240), (3, 480), (8, 3600), (30, 3600)]:
        delays = [policy.backoff(120, attempts, 3600, rng) for _ in range(200)]
        assert expected * 0.9 <= min(delays) and max(delays) <= expected * 1.1
        assert max(delays) - min(delays) > expected * 0.1  # jittered, not in lockstep


def test_next_poll_after_a_success_is_one_interval_give_or_take_ten_percent():
    rng = random.Random(1)
    delays = [seconds(policy.next_poll(NOW, 600, rng)) for _ in range(200)]
    assert min(delays) >= 540 and max(delays) <= 660


def test_a_failing_source_backs_off_but_never_polls_sooner_than_its_interval():
    rng = random.Random(2)
    first = seconds(policy.next_poll_after_failure(NOW, 600, 1, retry_after=None, cap=3600, rng=rng))
    assert first >= 600  # the first failure: one interval (a jitter below it is not allowed)
    assert (
        1080
        <= seconds(policy.next_poll_after_failure(NOW, 600, 2, retry_after=None, cap=3600, rng=rng))
        <= 1320
    )
    assert seconds(policy.next_poll_after_failure(NOW, 600, 9, retry_after=None, cap=3600, rng=rng)) <= 3960


def test_retry_after_is_honoured_up_to_its_cap():
    later = policy.next_poll_after_failure(NOW, 60, 1, retry_after=7200, cap=600)
    assert seconds(later) == 7200
    far = policy.next_poll_after_failure(NOW, 60, 1, retry_after=10 * 86400, cap=600)
    assert seconds(far) == policy.RETRY_AFTER_MAX
    page = policy.page_retry_at(NOW, 1, max_attempts=8, base=120, cap=3600, retry_after=5000)
    assert seconds(page) == 5000


def test_a_page_is_retried_until_its_last_attempt_or_a_final_refusal():
    options = {"max_attempts": 3, "base": 120, "cap": 3600, "rng": random.Random(3)}
    assert 108 <= seconds(policy.page_retry_at(NOW, 1, **options)) <= 132
    assert 216 <= seconds(policy.page_retry_at(NOW, 2, **options)) <= 264
    assert policy.page_retry_at(NOW, 3, **options) is None  # the last attempt: give up
    assert policy.page_retry_at(NOW, 1, final=True, **options) is None  # robots.txt says no


def test_a_page_given_up_on_is_stored_from_its_feed_only_when_the_feed_said_something():
    assert policy.store_from_feed(title="A title", summary="", origin="live", feed_date=None)
    assert policy.store_from_feed(title=None, summary="A summary", origin="live", feed_date=None)
    assert not policy.store_from_feed(title=None, summary="", origin="live", feed_date=None)
    # a backfill needs a date to know the article is in its range: only the feed's can say so
    assert not policy.store_from_feed(title="A title", summary="", origin="backfill", feed_date=None)
    assert policy.store_from_feed(title="A title", summary="", origin="backfill", feed_date=NOW)


def test_a_backfill_sets_aside_articles_dated_outside_its_range_or_not_dated():
    july = DateRange(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 7, 10, 23, 59, tzinfo=UTC))
    assert policy.set_aside_status("page", datetime(2025, 7, 3, tzinfo=UTC), july) is None
    assert (
        policy.set_aside_status("feed", datetime(2025, 7, 10, 23, 59, tzinfo=UTC), july) is None
    )  # inclusive
    status, note = policy.set_aside_status("page", datetime(2025, 6, 30, tzinfo=UTC), july)
    assert status == ArticleStatus.OUT_OF_RANGE and "outside" in note
    status, note = policy.set_aside_status("first-seen", datetime(2025, 7, 3, tzinfo=UTC), july)
    assert status == ArticleStatus.UNDATED and note == "no publication date"


def test_the_feed_date_beats_the_page_date_and_a_naive_page_date_is_read_in_the_source_zone():
    casablanca = timezone(timedelta(hours=1))
    feed, page = datetime(2025, 7, 1, 9, tzinfo=UTC), datetime(2025, 7, 2, 9, tzinfo=UTC)
    assert publication(feed, page, NOW, casablanca) == (feed, "feed")
    assert publication(None, page, NOW, casablanca) == (page, "page")
    naive = datetime(2025, 7, 2, 9)
    assert publication(None, naive, NOW, casablanca) == (naive.replace(tzinfo=casablanca), "page")
    assert publication(None, None, NOW, casablanca) == (NOW, "first-seen")


def test_a_home_page_canonical_url_does_not_make_duplicates():
    assert policy.page_canonical("https://news.example/2025/07/story?utm_source=x") == (
        "https://news.example/2025/07/story"
    )
    assert policy.page_canonical("https://news.example/") is None
    assert policy.page_canonical("https://news.example/?p=123") == "https://news.example/?p=123"
    assert policy.page_canonical(None) is None


def test_a_host_is_down_when_its_own_fetch_found_no_answer_a_5xx_or_a_429():
    url = "https://news.example/feed"
    assert policy.host_down(url, result(0, error="timeout")) == "news.example"
    assert policy.host_down(url, result(503, error="HTTP 503")) == "news.example"
    assert policy.host_down(url, result(429, error="HTTP 429")) == "news.example"
    assert policy.host_down(url, result(404, error="HTTP 404")) is None
    assert policy.host_down(url, result(200)) is None
    assert policy.host_down(url, result(0, error="disallowed", robots="disallowed")) is None
