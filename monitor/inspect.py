"""``monitor inspect``: what extraction and every topic make of one page or file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.config import Config
from monitor.extract import ExtractError, extract_page
from monitor.fetch.http import HttpClient
from monitor.match import Matcher


async def _load(target: str) -> tuple[bytes, str]:
    path = Path(target)
    if path.is_file():
        return path.read_bytes(), path.resolve().as_uri()
    if target.startswith(("http://", "https://")):
        async with HttpClient() as http:
            result = await http.get(target, origin=target)  # the operator's own URL
        if not result.ok or result.body is None:
            raise ValueError(result.error or f"HTTP {result.status}")
        return result.body, result.final_url or target
    raise ValueError("neither an http(s) URL nor an existing file")


async def inspect_page(config: Config, target: str) -> dict:
    """A JSON-able report: url, title, text, published, language, author, matches."""
    body, url = await _load(target)
    try:
        extracted = await asyncio.to_thread(extract_page, body, url)
    except ExtractError as exc:
        raise ValueError(str(exc)) from None
    published = extracted.published
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=config.tz)
    matches = Matcher(config.topics).match(extracted.title, extracted.text, language=extracted.language)
    return {
        "url": url,
        "canonical_url": extracted.canonical_url,
        "title": extracted.title,
        "text": extracted.text,
        "published": published.astimezone(config.tz).isoformat() if published else None,
        "language": extracted.language,
        "author": extracted.author,
        "matches": [
            {
                "topic": m.topic,
                "terms": m.terms,
                "matched": m.labels,
                "fields": m.fields,
                "snippet": m.snippet,
                "hits": [hit.to_json() for hit in m.hits],
                "highlights": [list(span) for span in m.highlights],
            }
            for m in matches
        ],
    }
