"""Load and validate the YAML (or JSON) config into typed objects.

Every error names the file, the line and the field, e.g.
``config/monitor.yaml:14: topics[2].channels: unknown channel 'pres' (did you mean 'press'?)``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
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
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

DEFAULT_CONFIG = "config/monitor.yaml"
DEFAULT_DATABASE = "sqlite:///data/monitor.db"
MIN_WEB_TOKEN = 16


class ConfigError(Exception):
    """A config problem, already formatted as one or more ``file:line: field: message`` lines."""


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

_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Problem(Exception):
    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


def _interpolate(node: Any, loc: tuple = ()) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string, in place where possible."""
    if isinstance(node, dict):
        for key in list(node.keys()):
            node[key] = _interpolate(node[key], loc + (key,))
        return node
    if isinstance(node, list):
        for i, item in enumerate(node):
            node[i] = _interpolate(item, loc + (i,))
        return node
    if isinstance(node, str) and "${" in node:

        def repl(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            value = os.environ.get(name)
            if value is None:
                if default is not None:
                    return default
                raise _Problem(loc, f"environment variable {name} is not set")
            return value

        return _ENV_VAR.sub(repl, node)
    return node


def _line_of(data: Any, loc: tuple) -> int | None:
    """1-based line of the deepest node of ``loc`` that the YAML tree knows."""
    line = None
    node = data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _format(path: str, data: Any, loc: tuple, message: str) -> str:
    line = _line_of(data, loc)
    where = f"{path}:{line}" if line else path
    return f"{where}: {_field_path(loc)}: {message}"


def _pydantic_message(err: dict) -> str:
    kind = err.get("type", "")
    msg = err.get("msg", "invalid value")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def _clean_loc(loc: tuple) -> tuple:
    # pydantic puts validator/union tags in locs (e.g. 'function-after[...]'); keep real keys.
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\]()]", str(p)))


def _read(path: str) -> Any:
    text_bytes = Path(path).read_bytes()
    try:
        text = text_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        try:  # JSON with tab indentation is valid JSON but not YAML.
            return json.loads(text)
        except ValueError:
            pass
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


def _unknown(kind: str, name: str, known: list[str]) -> str:
    """``unknown channel 'pres' (did you mean 'press'?)``."""
    if not known:
        return f"unknown {kind} {name!r} (no {kind}s are defined)"
    close = difflib.get_close_matches(name, known, n=1)
    return f"unknown {kind} {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _semantic_checks(cfg: Config) -> list[tuple[tuple, str]]:
    problems: list[tuple[tuple, str]] = []
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
    problems.extend(_channel_url_problems(cfg))
    problems.extend(_topic_problems(cfg))
    return problems


def _channel_url_problems(cfg: Config) -> list[tuple[tuple, str]]:
    from monitor.alerts.send import check_url

    problems = []
    for i, channel in enumerate(cfg.channels):
        error = check_url(channel.url)
        if error:
            problems.append((("channels", i, "url"), error))
    return problems


def _topic_problems(cfg: Config) -> list[tuple[tuple, str]]:
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


def load(path: str | os.PathLike | None = None) -> Config:
    """Read, interpolate and validate a config file; raise ConfigError with precise lines."""
    path = str(path or os.environ.get("MONITOR_CONFIG") or DEFAULT_CONFIG)
    if not Path(path).is_file():
        raise ConfigError(f"{path}: config file not found")
    data = _read(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config must be a mapping of keys (database, sources, …)")
    try:
        _interpolate(data)
    except _Problem as exc:
        raise ConfigError(_format(path, data, exc.loc, exc.message)) from None
    plain = json.loads(json.dumps(data, default=str))
    if os.environ.get("MONITOR_DATABASE"):
        plain["database"] = os.environ["MONITOR_DATABASE"]
    try:
        cfg = Config.model_validate({**plain, "path": path})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = _clean_loc(tuple(err["loc"]))
            lines.append(_format(path, data, loc, _pydantic_message(err)))
        raise ConfigError("\n".join(dict.fromkeys(lines))) from None
    problems = _semantic_checks(cfg)
    if problems:
        raise ConfigError("\n".join(_format(path, data, loc, msg) for loc, msg in problems))
    return cfg
