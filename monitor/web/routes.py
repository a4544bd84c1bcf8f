"""The pages: each reads what it shows through :mod:`monitor.web.queries` (or the functions the CLI
uses: source health, the outbox listing, the topic back-test) and renders one template.

Endpoints are plain functions (Starlette runs them in its thread pool, beside the event loop),
over a session of the read-only engine. GETs never change anything; the only POSTs are the login
and logout forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.alerts.admin import STATUSES, hide_secrets, list_alerts
from monitor.config import Config, TopicConfig
from monitor.dates import parse_user_date
from monitor.health import source_health
from monitor.match import QueryError
from monitor.topics import backtest
from monitor.web import auth, feed
from monitor.web.queries import (
    Cursor,
    StoryFilter,
    activity,
    languages,
    latest_story,
    source_ids,
    story_detail,
    topic_id,
    topic_stories,
)
from monitor.web.state import WebState

FEED_ENTRIES = 50
SEARCH_SPANS = {"7d": 7, "30d": 30, "365d": 365, "all": None}
SEARCH_SHOWN = 100


def _state(request: Request) -> WebState:
    return request.app.state.web


def index(request: Request) -> Response:
    """Every topic: matches today / 7 / 30 days, the chart, its latest story; failing sources."""
    web = _state(request)
    now = web.clock()
    with web.session() as session:
        ids = web.topic_ids(session)
        acts = activity(session, list(ids.values()), now, web.config.tz)
        rows = []
        for topic in web.config.topics:
            tid = ids.get(topic.name)
            act = acts.get(tid) if tid else None
            rows.append(
                {
                    "topic": topic,
                    "slug": web.slugs[topic.name],
                    "activity": act,
                    "latest": latest_story(session, tid, act) if tid else None,
                }
            )
        health = source_health(session, web.config, now=now)
    flagged = [h for h in health if h.flags]
    return web.render(request, "index.html", {"rows": rows, "health": health, "flagged": flagged})


@dataclass
class TopicQuery:
    """A topic page's filters and paging, read from the query string (errors kept for the page)."""

    sources: list[str]
    language: str
    since: str
    until: str
    before: Cursor | None
    errors: list[str]

    def link(self, **changes) -> str:
        """The query string of this page with some parameters changed (None: dropped)."""
        params = {"source": self.sources, "lang": self.language, "from": self.since, "to": self.until}
        params.update(changes)
        pairs = []
        for key, value in params.items():
            for item in value if isinstance(value, list) else [value]:
                if item:
                    pairs.append((key, item))
        return "?" + urlencode(pairs) if pairs else ""


def _topic_query(request: Request, config: Config) -> TopicQuery:
    params = request.query_params
    known = {s.name for s in config.sources}
    sources = [s for s in params.getlist("source") if s]
    errors = [f"unknown outlet {s!r}" for s in sources if s not in known]
    before = None
    if params.get("before"):
        try:
            before = parse_cursor(params["before"], config)
        except ValueError as exc:
            errors.append(f"before: {exc}")
    query = TopicQuery(
        [s for s in sources if s in known], params.get("lang", "").strip(), "", "", before, errors
    )
    for key in ("from", "to"):
        value = params.get(key, "").strip()
        if not value:
            continue
        try:
            parse_user_date(value, config.tz)
        except ValueError as exc:
            errors.append(f"{key}: {exc}")
            continue
        setattr(query, "since" if key == "from" else "until", value)
    return query


def parse_cursor(value: str, config: Config) -> Cursor:
    """``2026-11-20T08:00:00+00:00,42`` (a page's cursor) or a date / date-time: stories before it."""
    moment, _, story = value.partition(",")
    if story and not story.isdigit():
        raise ValueError(f"invalid story id {story!r}")
    return parse_user_date(moment, config.tz), int(story) if story else None


def format_cursor(cursor: Cursor) -> str:
    moment, story = cursor
    return moment.isoformat() + (f",{story}" if story is not None else "")


def _filters(session, query: TopicQuery, config: Config, *, dates: bool = True) -> StoryFilter:
    return StoryFilter(
        source_ids=source_ids(session, query.sources) if query.sources else None,
        language=query.language or None,
        since=parse_user_date(query.since, config.tz) if dates and query.since else None,
        until=parse_user_date(query.until, config.tz, end_of_day=True) if dates and query.until else None,
    )


def _topic(request: Request) -> tuple[WebState, TopicConfig, str]:
    web = _state(request)
    slug = request.path_params["slug"]
    topic = web.topic_by_slug(slug)
    if topic is None:
        raise HTTPException(404, f"no topic {slug!r} in the config")
    return web, topic, slug


def topic_page(request: Request) -> Response:
    """ "Latest news with <topic>": its stories newest first, filters, paging, chart, feed link."""
    web, topic, slug = _topic(request)
    query = _topic_query(request, web.config)
    stories, cursor, act = [], None, None
    with web.session() as session:
        tid = topic_id(session, topic.name)
        if tid is not None:
            filters = _filters(session, query, web.config)
            stories, cursor = topic_stories(
                session, tid, filters=filters, before=query.before, limit=web.page_size
            )
            chart_filters = _filters(session, query, web.config, dates=False)
            act = activity(session, [tid], web.clock(), web.config.tz, chart_filters)[tid]
    context = {
        "topic": topic,
        "slug": slug,
        "stories": stories,
        "activity": act,
        "query": query,
        "older": query.link(before=format_cursor(cursor)) if cursor else None,
        "newest": query.link(before=None) if query.before else None,
        "outlets": [s.name for s in web.config.sources],
        "languages": web.languages(query.language),
    }
    status = 400 if query.errors else 200
    return web.render(request, "topic.html", context, status_code=status)


def topic_feed(request: Request) -> Response:
    """The topic's Atom feed (its newest stories), with ETag / Last-Modified and 304s."""
    web, topic, slug = _topic(request)
    query = _topic_query(request, web.config)
    if query.errors:
        return Response("; ".join(query.errors) + "\n", status_code=400, media_type="text/plain")
    stories, fallback = [], None
    with web.session() as session:
        tid = topic_id(session, topic.name)
        if tid is not None:
            filters = _filters(session, query, web.config)
            stories, _ = topic_stories(session, tid, filters=filters, before=query.before, limit=FEED_ENTRIES)
            fallback = web.topic_updated(session, tid)
    updated = feed.feed_updated(stories, fallback)
    base = str(request.base_url).rstrip("/")  # with the root path the app is mounted under
    body = feed.atom_feed(
        topic=topic.name,
        slug=slug,
        self_url=str(request.url.remove_query_params("token")),  # never echo the token
        page_url=f"{base}/topics/{slug}",
        story_url=lambda story: f"{base}/stories/{story}",
        stories=stories,
        updated=updated,
    )
    return feed.conditional_response(request, body, updated, feed.MEDIA_TYPE)


def story_page(request: Request) -> Response:
    """Every article of a story across outlets, its topics, the first article's text."""
    web = _state(request)
    story_id = request.path_params["story_id"]
    with web.session() as session:
        story = story_detail(session, story_id)
        langs = languages(session, [a.id for a in story.articles]) if story else {}
    if story is None:
        raise HTTPException(404, f"no story {story_id}")
    slugs = {name: web.slugs.get(name) for name in story.topics}
    return web.render(request, "story.html", {"story": story, "langs": langs, "topic_slugs": slugs})


def sources_page(request: Request) -> Response:
    """What ``monitor status`` shows."""
    web = _state(request)
    with web.session() as session:
        health = source_health(session, web.config, now=web.clock())
    return web.render(request, "sources.html", {"health": health})


def alerts_page(request: Request) -> Response:
    """The outbox, newest first, by status and channel; errors with secrets redacted."""
    web = _state(request)
    status = request.query_params.get("status") or None
    channel = request.query_params.get("channel") or None
    error = None
    if status is not None and status not in STATUSES:
        error, status = f"unknown status {status!r} (one of: {', '.join(STATUSES)})", None
    with web.session() as session:
        rows = hide_secrets(list_alerts(session, status=status, channel=channel, limit=200), web.redact)
    context = {
        "rows": rows,
        "statuses": STATUSES,
        "status": status,
        "channel": channel,
        "channels": [c.name for c in web.config.channels],
        "error": error,
    }
    return web.render(request, "alerts.html", context, status_code=400 if error else 200)


def search_page(request: Request) -> Response:
    """The topic query language over stored articles (the engine of ``topics test``)."""
    web = _state(request)
    q = request.query_params.get("q", "").strip()
    span = request.query_params.get("since", "30d")
    if span not in SEARCH_SPANS:
        span = "30d"
    context = {"q": q, "span": span, "spans": list(SEARCH_SPANS), "error": None, "report": None, "langs": {}}
    if q:
        days = SEARCH_SPANS[span]
        since = web.clock() - timedelta(days=days) if days else None
        try:
            with web.session() as session:
                report = backtest(session, TopicConfig(name="(query)", query=q), since=since)
                shown = report.matches[:SEARCH_SHOWN]
                context["langs"] = languages(session, [r.article_id for r in shown])
            context["report"], context["shown"] = report, shown
        except QueryError as exc:
            context["error"] = str(exc)
    return web.render(request, "search.html", context, status_code=400 if context["error"] else 200)


# --------------------------------------------------------------------------- login


def login_form(request: Request) -> Response:
    web = _state(request)
    target = auth.local_path(request.query_params.get("next"))
    return web.render(request, "login.html", {"next": target, "error": None, "login": True})


async def login(request: Request) -> Response:
    """Check the token; set the session cookie (HttpOnly, SameSite=Strict) and go back."""
    web = _state(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    target = auth.local_path(form.get("next"))
    if web.token is None:
        return RedirectResponse(target, status_code=303)
    if not auth.token_ok(form.get("token", "").strip(), web.token):
        context = {"next": target, "error": "wrong token", "login": True}
        return web.render(request, "login.html", context, status_code=401)
    response = RedirectResponse(web.root(request) + target, status_code=303)
    response.set_cookie(
        auth.COOKIE,
        auth.session_value(web.token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    web = _state(request)
    response = RedirectResponse(web.root(request) + "/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def refuse(request: Request) -> Response:
    """No token given: the login page for a person, a plain 401 for a feed reader or a script."""
    web = _state(request)
    headers = {"WWW-Authenticate": 'Bearer realm="monitor"'}
    if request.url.path.endswith(".atom") or "text/html" not in request.headers.get("accept", "text/html"):
        return Response("a token is required (Authorization: Bearer, or ?token= for feeds)\n", 401,
                        headers=headers, media_type="text/plain")  # fmt: skip
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = target.removeprefix(web.root(request)) or "/"
    context = {"next": auth.local_path(target), "error": None, "login": True}
    return web.render(request, "login.html", context, status_code=401, headers=headers)
