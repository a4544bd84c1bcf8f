"""Throughput of `run --once` against bare sequential trafilatura, in the same run.

A local HTTP server (its own process) serves an RSS feed listing N article pages (real pages from
../shared/corpus/articles when present, generated ones otherwise). The script then

1. extracts every page with bare trafilatura, sequentially, in this process (the baseline);
2. runs the whole pipeline once (`run_once`: fetch feed, dedupe, fetch pages, extract in the
   process pool, match, store in SQLite, outbox) on a fresh database.

It prints pages/s for both and the ratio of wall times (pipeline / baseline): under 1 means the
pipeline, with its HTTP, database and matching work, is faster than bare sequential extraction.

    .venv/bin/python bench/pipeline.py [--pages 400]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "articles" / "html"


_CANONICAL = re.compile(rb"<link[^>]+rel=[\"']?canonical[^>]*>|<meta[^>]+og:url[^>]*>", re.I)


def load_pages() -> list[bytes]:
    """Real pages, without their canonical URL: each page is served under several URLs here, and
    the pipeline would rightly store a page whose canonical URL it already has only once."""
    if CORPUS.is_dir():
        pages = [
            _CANONICAL.sub(b"", gzip.decompress(p.read_bytes())) for p in sorted(CORPUS.glob("*.html.gz"))
        ]
        if pages:
            return pages
    from tests.sitegen import article_page

    words = [
        "government",
        "minister",
        "parliament",
        "economy",
        "Rabat",
        "Casablanca",
        "project",
        "budget",
        "reform",
    ]
    return [
        article_page(
            f"Story {i}", [" ".join(words[(i + j) % len(words)] for j in range(60)) for _ in range(8)]
        ).encode()
        for i in range(60)
    ]


def serve(pages: list[bytes], n: int, port_queue) -> None:
    from aiohttp import web

    from tests.sitegen import rss_feed

    async def main() -> None:
        app = web.Application()
        base_holder: dict[str, str] = {}

        async def feed(_request):
            items = [{"title": f"Article {i}", "link": f"{base_holder['base']}/a/{i}"} for i in range(n)]
            return web.Response(
                body=rss_feed(base_holder["base"], items).encode(), content_type="application/rss+xml"
            )

        async def article(request):
            i = int(request.match_info["i"])
            return web.Response(body=pages[i % len(pages)], content_type="text/html", charset="utf-8")

        app.router.add_get("/feed.xml", feed)
        app.router.add_get("/a/{i}", article)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        base_holder["base"] = f"http://127.0.0.1:{port}"
        port_queue.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


def baseline(pages: list[bytes], n: int) -> float:
    import trafilatura

    start = time.perf_counter()
    for i in range(n):
        trafilatura.bare_extraction(pages[i % len(pages)], with_metadata=True)
    return time.perf_counter() - start


def pipeline(port: int, n: int, workdir: Path) -> tuple[float, int]:
    """Wall time of one `run_once` on a fresh database, and how many articles it stored."""
    from monitor.config import load
    from monitor.runtime import Settings
    from monitor.scheduler import run_once

    cfg_path = workdir / "bench.yaml"
    cfg_path.write_text(
        json.dumps(
            {
                "database": f"sqlite:///{workdir / 'bench.db'}",
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
    # The local server is ours: no politeness delay, and the extraction pool sets the pace.
    settings = Settings(host_delay=0, per_host=8)
    start = time.perf_counter()
    reports, _stats = asyncio.run(run_once(cfg, settings))
    elapsed = time.perf_counter() - start
    return elapsed, reports[0].processed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are printed")
    args = parser.parse_args()
    pages = load_pages()
    n = args.pages
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(pages, n, queue), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    base_times, pipe_times, ratios = [], [], []
    try:
        import monitor.scheduler  # noqa: F401  (import cost is not part of either measurement)

        for round_no in range(args.rounds):
            # Alternate the order: a shared machine slows down under sustained load.
            order = ("base", "pipe") if round_no % 2 == 0 else ("pipe", "base")
            for what in order:
                if what == "base":
                    base_s = baseline(pages, n)
                else:
                    with tempfile.TemporaryDirectory() as tmp:
                        pipe_s, processed = pipeline(port, n, Path(tmp))
            base_times.append(base_s)
            pipe_times.append(pipe_s)
            ratios.append(pipe_s / base_s)
            print(f"round {round_no + 1}: bare {base_s:6.2f} s, pipeline {pipe_s:6.2f} s ({processed} stored), "
                  f"ratio {pipe_s / base_s:.2f}")  # fmt: skip
    finally:
        server.terminate()
    sizes = sorted(len(p) for p in pages)
    base_s, pipe_s = statistics.median(base_times), statistics.median(pipe_times)
    print(
        f"pages: {n} ({len(pages)} distinct, median {sizes[len(sizes) // 2] // 1024} KB), cores: {os.cpu_count()}"
    )
    print(f"bare sequential trafilatura : {n / base_s:7.1f} pages/s  (median {base_s:6.2f} s)")
    print(f"monitor run --once pipeline : {n / pipe_s:7.1f} pages/s  (median {pipe_s:6.2f} s)")
    print(f"ratio (pipeline time / bare time): median {statistics.median(ratios):.2f}, "
          f"range {min(ratios):.2f}-{max(ratios):.2f}   (goal: under 0.6 on 2 cores)")  # fmt: skip


if __name__ == "__main__":
    main()
