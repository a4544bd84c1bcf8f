"""Load and validate the YAML (or JSON) config into typed objects.

Every error names the file, the line and the field, e.g.
``config/monitor.yaml:14: topics[2].channels: unknown channel 'pres' (did you mean 'press'?)``.
The bottom layer: it imports nothing of monitor but configfile.py (reading the document, lines,
messages); the checks that need the matcher or apprise come from the caller (``load(checks=)``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.configfile import (
    ConfigError,
    Loc,
    Problem,
    describe,
    describe_validation,
    did_you_mean,
    interpolate,
    read,
)

DEFAULT_CONFIG = "config/monitor.yaml"
DEFAULT_DATABASE = "sqlite:///data/monitor.db"
MIN_WEB_TOKEN = 16


# --------------------------------------------------------------------------- durations

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.I)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds from ``30s``, ``10m``, ``1h30m``, ``2d`` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _DURATION_PART.findall(text)
            if not parts or _DURATION_PART.sub("", text).strip():
                raise ValueError(f"invalid duration {value!r}: use forms such as 30s, 10m, 1h")
            seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Africa/Casablanca)") from None
    return value


def _check_http_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


_HOST_NAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
)


def _check_allowed_address(value: Any) -> str:
    """A ``fetch.allow_private`` entry: an address or CIDR range (kept in canonical form), or a
    host name (lower case). Numeric spellings other than dotted quads are refused."""
    text = str(value).strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_network(text.strip("[]"), strict=False))
    except ValueError:
        pass
    last = text.rsplit(".", 1)[-1]
    if re.fullmatch(r"0x[0-9a-f]*|[0-9]+", last):
        raise ValueError(
            f"{value!r}: write an address as four decimal numbers (such as 127.0.0.1) or a range"
        )
    if _HOST_NAME.fullmatch(text):
        return text
    raise ValueError(
        f"{value!r} is neither a host name nor an IP address or CIDR range (such as 10.0.0.0/8 or intranet.example)"
    )


# --------------------------------------------------------------------------- models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """One outlet: a feed or an HTML listing page."""

    name: str = Field(min_length=1)
    feed: str | None = None
    html: str | None = None
    links: str | None = None
    sitemap: str | None = None
    interval: Duration = 600.0
    language: str | None = None
    timezone: str | None = None
    robots: bool = True  # obey robots.txt for this source's HTML pages (feeds are always exempt)

    _urls = field_validator("feed", "html", "sitemap")(_check_http_url)
    _tz = field_validator("timezone")(_check_timezone)

    @field_validator("links")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from cssselect import GenericTranslator, SelectorError

        try:
            GenericTranslator().css_to_xpath(value)
        except SelectorError as exc:
            raise ValueError(f"invalid CSS selector {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> SourceConfig:
        if bool(self.feed) == bool(self.html):
            raise ValueError("give exactly one of 'feed' (RSS/Atom/JSON feed) or 'html' (a listing page)")
        if self.links and not self.html:
            raise ValueError("'links' (a CSS selector) only applies to an 'html' source")
        return self

    @property
    def kind(self) -> str:
        return "feed" if self.feed else "html"

    @property
    def url(self) -> str:
        return self.feed or self.html or ""


# ISO 639-1 language codes, for the topics' `languages:` filter.
_ISO_639_1_CODES = """aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de
    dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id
    ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu
    lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu
    rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr
    ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())


def _check_language(value: str) -> str:
    """A language code such as ``fr`` (or a tag such as ``fr-FR``: only ``fr`` is compared)."""
    primary = re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()
    if primary not in ISO_639_1:
        raise ValueError(
            f"unknown language {value!r}: use two-letter ISO 639-1 codes such as 'en', 'fr', 'ar'"
        )
    return value.strip()


class TopicConfig(_Strict):
    """A watch topic: keywords (any of) and/or a boolean query, minus excluded terms; optionally
    only for some sources and languages."""

    name: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    query: str | None = None
    exclude: list[str] = Field(default_factory=list)
    channels: list[str] | None = None
    sources: list[str] | None = None  # only articles of these sources (names); default: all
    languages: list[str] | None = None  # only articles in these languages (ISO 639-1); default: all

    @field_validator("keywords", "exclude")
    @classmethod
    def _no_blank(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            if not str(value).strip():
                raise ValueError(f"item {i} is empty")
        return [str(v) for v in values]

    @field_validator("sources", "languages")
    @classmethod
    def _filter(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        if not values:
            raise ValueError("an empty list matches nothing: remove the key to allow every value")
        return [str(v) for v in values]

    @field_validator("languages")
    @classmethod
    def _languages(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else [_check_language(v) for v in values]

    @model_validator(mode="after")
    def _something(self) -> TopicConfig:
        if not self.keywords and not (self.query and self.query.strip()):
            raise ValueError("a topic needs 'keywords' or a 'query'")
        return self


class ChannelConfig(_Strict):
    """Where alerts go: any apprise URL; immediate, or a digest on a cron schedule.

    ``max_per_hour`` (immediate channels only): at most that many messages in any rolling hour;
    past it, alerts are held and sent together in one bundled message, never dropped.
    """

    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    digest: str | None = None
    max_per_hour: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _flood_control(self) -> ChannelConfig:
        if self.digest and self.max_per_hour is not None:
            raise ValueError(
                "'max_per_hour' applies to immediate channels; a 'digest' channel sends one message per period"
            )
        return self

    @field_validator("url")
    @classmethod
    def _apprise_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(f"not an apprise URL (scheme://...): {value!r}")
        return value

    @field_validator("digest")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
        return value


class FetchConfig(_Strict):
    """How politely and patiently pages are fetched (every source, every host)."""

    per_host: int = Field(default=2, ge=1, le=64)  # requests in flight per host
    delay: Duration | None = 1.0  # between two request starts to one host; robots Crawl-delay may raise it
    timeout: Duration = 20.0
    user_agent: str | None = None
    allow_private: list[Annotated[str, BeforeValidator(_check_allowed_address)]] = Field(default_factory=list)

    @field_validator("delay", mode="before")
    @classmethod
    def _zero_delay(cls, value: Any) -> Any:
        return None if value in (0, "0", "0s") else value

    @property
    def delay_seconds(self) -> float:
        return self.delay or 0.0


class WebConfig(_Strict):
    """``monitor serve``: the token that must be given to read the pages (required to bind
    anything but loopback). An empty token (``${MONITOR_WEB_TOKEN:-}`` unset) means none."""

    token: str | None = None

    @field_validator("token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if not value:
            return None
        if len(value) < MIN_WEB_TOKEN or value != value.strip():
            raise ValueError(
                f"the token must be at least {MIN_WEB_TOKEN} characters without surrounding spaces, such "
                "as the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
        return value


class Config(_Strict):
    """The whole config file."""

    database: str = DEFAULT_DATABASE
    timezone: str = "UTC"
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    operator_channel: str | None = None  # where failing / silent sources are reported
    web: WebConfig = Field(default_factory=WebConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    topics: list[TopicConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)
    path: str | None = Field(default=None, exclude=True)

    _tz = field_validator("timezone")(_check_timezone)

    def topic_channels(self, topic: TopicConfig) -> list[ChannelConfig]:
        """The channels a topic alerts on (all of them when the topic names none)."""
        if topic.channels is None:
            return list(self.channels)
        wanted = set(topic.channels)
        return [c for c in self.channels if c.name in wanted]

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)

    def source_timezone(self, source: SourceConfig) -> ZoneInfo:
        return ZoneInfo(source.timezone or self.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# --------------------------------------------------------------------------- loading

Check = Callable[[Config], Iterable[tuple[Loc, str]]]
"""A check the caller adds to ``load``: the problems it finds, as (location, message) pairs."""


def _unknown(kind: str, name: str, known: list[str]) -> str:
    """``unknown channel 'pres' (did you mean 'press'?)``."""
    if not known:
        return f"unknown {kind} {name!r} (no {kind}s are defined)"
    return f"unknown {kind} {name!r}" + did_you_mean(name, known)


def _references(cfg: Config) -> list[tuple[Loc, str]]:
    """Names are unique; what a topic or the operator channel names exists."""
    problems: list[tuple[Loc, str]] = []
    for section in ("sources", "topics", "channels"):
        seen: dict[str, int] = {}
        for i, item in enumerate(getattr(cfg, section)):
            if item.name in seen:
                problems.append(
                    (
                        (section, i, "name"),
                        f"duplicate name {item.name!r} (also {section}[{seen[item.name]}])",
                    )
                )
            else:
                seen[item.name] = i
    channel_names = [c.name for c in cfg.channels]
    source_names = [s.name for s in cfg.sources]
    for i, topic in enumerate(cfg.topics):
        for name in topic.channels or []:
            if name not in channel_names:
                problems.append((("topics", i, "channels"), _unknown("channel", name, channel_names)))
        for j, name in enumerate(topic.sources or []):
            if name not in source_names:
                problems.append((("topics", i, "sources", j), _unknown("source", name, source_names)))
    if cfg.operator_channel and cfg.operator_channel not in channel_names:
        problems.append((("operator_channel",), _unknown("channel", cfg.operator_channel, channel_names)))
    return problems


def load(path: str | os.PathLike | None = None, checks: Sequence[Check] = ()) -> Config:
    """Read, interpolate and validate a config file; raise ConfigError with precise lines.

    ``checks`` are the caller's: what only the layers above can judge (a topic's query, which the
    matcher compiles; a channel URL, which apprise parses; see monitor/checks.py), so this module
    imports nothing of theirs. Their problems are reported like the others, at their line.
    """
    path = str(path or os.environ.get("MONITOR_CONFIG") or DEFAULT_CONFIG)
    if not Path(path).is_file():
        raise ConfigError(f"{path}: config file not found")
    data = read(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config must be a mapping of keys (database, sources, …)")
    try:
        interpolate(data)
    except Problem as exc:
        raise ConfigError(describe(path, data, exc.loc, exc.message)) from None
    plain = json.loads(json.dumps(data, default=str))
    if os.environ.get("MONITOR_DATABASE"):
        plain["database"] = os.environ["MONITOR_DATABASE"]
    try:
        cfg = Config.model_validate({**plain, "path": path})
    except ValidationError as exc:
        raise ConfigError(describe_validation(path, data, exc)) from None
    problems = _references(cfg)
    for check in checks:
        problems.extend(check(cfg))
    if problems:
        raise ConfigError("\n".join(describe(path, data, loc, msg) for loc, msg in problems))
    return cfg
