"""What every page needs: the config, the read-only engine, the clock, the templates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from monitor.alerts.secrets import config_secrets, redact
from monitor.config import Config, TopicConfig
from monitor.db.models import Topic
from monitor.web import present

HERE = Path(__file__).parent
COMMON_LANGUAGES = ("ar", "en", "fr")


class WebState:
    """Shared by the requests of one app (read-only after construction)."""

    def __init__(
        self, config: Config, engine: Engine, *, clock: Callable[[], datetime], page_size: int = 20
    ) -> None:
        self.config = config
        self.engine = engine
        self.factory = sessionmaker(engine)
        self.clock = clock
        self.page_size = page_size
        self.token = config.web.token
        self.slugs = present.topic_slugs([t.name for t in config.topics])
        self._by_slug = {self.slugs[t.name]: t for t in config.topics}
        self._secrets = config_secrets(config) | ({self.token} if self.token else set())
        self.templates = Jinja2Templates(env=self._environment())

    def _environment(self) -> Environment:
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html", "xml"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        tz = self.config.tz
        env.globals.update(
            highlighted=present.highlighted,
            safe_href=present.safe_href,
            direction=present.direction,
            chart=present.chart,
            exact=lambda moment: present.exact_time(moment, tz),
            ago=lambda moment: present.time_ago(moment.astimezone(tz) if moment else None, self.clock()),
            local=lambda moment, fmt="%Y-%m-%d %H:%M": moment.astimezone(tz).strftime(fmt) if moment else "",
            timezone=self.config.timezone,
            slugs=self.slugs,
            token_required=self.token is not None,
        )
        return env

    def session(self) -> Session:
        return self.factory()

    def root(self, request: Request) -> str:
        """The path the app is mounted under (``--root-path`` behind a proxy), without a trailing /."""
        return request.scope.get("root_path", "").rstrip("/")

    def render(
        self,
        request: Request,
        name: str,
        context: dict,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        context = {"root": self.root(request), **context}
        return self.templates.TemplateResponse(
            request, name, context, status_code=status_code, headers=headers
        )

    def topic_by_slug(self, slug: str) -> TopicConfig | None:
        return self._by_slug.get(slug)

    def topic_ids(self, session: Session) -> dict[str, int]:
        names = [t.name for t in self.config.topics]
        return dict(session.execute(select(Topic.name, Topic.id).where(Topic.name.in_(names))).all())

    def topic_updated(self, session: Session, topic: int) -> datetime | None:
        return session.scalar(select(Topic.updated_at).where(Topic.id == topic))

    def languages(self, selected: str) -> list[str]:
        """The language filter's choices: the sources' and topics' languages, and the usual three."""
        found = {s.language.split("-")[0].lower() for s in self.config.sources if s.language}
        for topic in self.config.topics:
            found.update(lang.split("-")[0].lower() for lang in topic.languages or [])
        found.update(COMMON_LANGUAGES)
        if selected:
            found.add(selected)
        return sorted(found)

    def redact(self, text: str | None) -> str | None:
        """``text`` without any secret of the config's channel URLs (or the web token)."""
        return redact(text, self._secrets) if text else text
