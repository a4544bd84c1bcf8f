"""Throughput of `monitor backfill` against bare sequential trafilatura, in the same run.

A local HTTP server (its own process) plays an outlet with N past articles: robots.txt names a
sitemap index, whose two child sitemaps (one gzipped) list the articles with news publication
dates spread over 1-14 July 2025; the article pages are real pages from
../shared/corpus/articles when present (canonical links stripped, as bench/pipeline.py does),
generated ones otherwise. The script then

1. extracts every page with bare trafilatura, sequentially, in this process (the baseline);
2. runs a whole backfill of 1-15 July (`run_backfill`: robots.txt, sitemap walk, dedupe,
   fetch pages, extract in the process pool, match, cluster stories, store in SQLite) on a
   fresh database, with no politeness delay for the local server.

It prints articles/s for both and the ratio of wall times (backfill / baseline).

    .venv/bin/python bench/backfill.py [--articles 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import baseline, load_pages  # noqa: E402  (bench/pipeline.py)

FIRST = datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
SPAN = timedelta(days=14)


def sitemap(base: str, ids: range, n: int) -> bytes:
    news = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    urls = []
    for i in ids:
        when = (FIRST + SPAN * i / n).isoformat()
        urls.append(
            f"<url><loc>{base}/a/{i}</loc><lastmod>{when}</lastmod><news:news><news:publication>"
            f"<news:name>Bench</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{when}</news:publication_date><news:title>Article {i}</news:title>"
            "</news:news></url>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" {news}>'
        + "".join(urls)
        + "</urlset>"
    ).encode()


def serve(pages: list[bytes], n: int, port_queue) -> None:
    from aiohttp import web

    async def main() -> None:
        app = web.Application()
        holder: dict[str, str] = {}
        half = n // 2

        async def robots(_request):
            return web.Response(
                text=f"User-agent: *\nAllow: /\nSitemap: {holder['base']}/sitemap_index.xml\n"
            )

        async def index(_request):
            base = holder["base"]
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{base}/sitemap-1.xml.gz</loc><lastmod>2025-07-08</lastmod></sitemap>"
                f"<sitemap><loc>{base}/sitemap-2.xml</loc><lastmod>2025-07-15</lastmod></sitemap>"
                "</sitemapindex>"
            )
            return web.Response(body=body.encode(), content_type="application/xml")

        async def first(_request):
            data = gzip.compress(sitemap(holder["base"], range(half), n))
            return web.Response(body=data, content_type="application/gzip")

        async def second(_request):
            return web.Response(
                body=sitemap(holder["base"], range(half, n), n), content_type="application/xml"
            )

        async def feed(_request):
            body = '<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title></channel></rss>'
            return web.Response(body=body.encode(), content_type="application/rss+xml")

        async def article(request):
            i = int(request.match_info["i"])
            return web.Response(body=pages[i % len(pages)], content_type="text/html", charset="utf-8")

        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/sitemap_index.xml", index)
        app.router.add_get("/sitemap-1.xml.gz", first)
        app.router.add_get("/sitemap-2.xml", second)
        app.router.add_get("/feed.xml", feed)
        app.router.add_get("/a/{i}", article)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        holder["base"] = f"http://127.0.0.1:{port}"
        port_queue.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


def backfill(port: int, workdir: Path) -> tuple[float, int]:
    """Wall time of one backfill on a fresh database, and how many articles it stored."""
    from monitor.backfill import Progress, run_backfill
    from monitor.config import load
    from monitor.dates import parse_user_date
    from monitor.runtime import Settings

    cfg_path = workdir / "bench.yaml"
    cfg_path.write_text(
        json.dumps(
            {
                "database": f"sqlite:///{workdir / 'bench.db'}",
                "timezone": "Africa/Casablanca",
                "sources": [{"name": "bench", "feed": f"http://127.0.0.1:{port}/feed.xml"}],
                "topics": [
                    {"name": "Seghrouchni", "keywords": ["Seghrouchni", "السغروشني"]},
                    {"name": "Government", "keywords": ["government", "minister"]},
                ],
                "channels": [{"name": "log", "url": f"logfile://{workdir / 'alerts.log'}"}],
            }
        )
    )
    cfg = load(cfg_path)
    start, end = parse_user_date("2025-07-01", cfg.tz), parse_user_date("2025-07-15", cfg.tz, end_of_day=True)
    # The local server is ours: no politeness delay, and the extraction pool sets the pace.
    settings = Settings(host_delay=0, per_host=8)
    began = time.perf_counter()
    report = asyncio.run(run_backfill(cfg, start, end, settings=settings, progress=Progress()))
    elapsed = time.perf_counter() - began
    (summary,) = report.sources
    assert summary.method == "sitemap", summary
    return elapsed, summary.in_range


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are printed")
    args = parser.parse_args()
    pages = load_pages()
    n = args.articles
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(pages, n, queue), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    base_times, fill_times, ratios = [], [], []
    try:
        import monitor.backfill  # noqa: F401  (import cost is not part of either measurement)

        for round_no in range(args.rounds):
            order = ("base", "fill") if round_no % 2 == 0 else ("fill", "base")
            for what in order:
                if what == "base":
                    base_s = baseline(pages, n)
                else:
                    with tempfile.TemporaryDirectory() as tmp:
                        fill_s, stored = backfill(port, Path(tmp))
            base_times.append(base_s)
            fill_times.append(fill_s)
            ratios.append(fill_s / base_s)
            print(f"round {round_no + 1}: bare {base_s:6.2f} s, backfill {fill_s:6.2f} s ({stored} stored), "
                  f"ratio {fill_s / base_s:.2f}", flush=True)  # fmt: skip
    finally:
        server.terminate()
    sizes = sorted(len(p) for p in pages)
    base_s, fill_s = statistics.median(base_times), statistics.median(fill_times)
    print(
        f"articles: {n} ({len(pages)} distinct pages, median {sizes[len(sizes) // 2] // 1024} KB), cores: {os.cpu_count()}"
    )
    print(f"bare sequential trafilatura : {n / base_s:7.1f} pages/s     (median {base_s:6.2f} s)")
    print(f"monitor backfill            : {n / fill_s:7.1f} articles/s  (median {fill_s:6.2f} s)")
    print(f"ratio (backfill time / bare time): median {statistics.median(ratios):.2f}, "
          f"range {min(ratios):.2f}-{max(ratios):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
