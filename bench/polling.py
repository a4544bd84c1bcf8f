"""CPU and memory of one polling cycle: 1,000 and 10,000 sources answering 304, 1,000 changed feeds.

A local aiohttp server (its own process) serves /feed/<i>: with a matching If-None-Match it
answers 304, else a small RSS feed (5 entries). Each scenario runs in a fresh process:

- the config's sources are synced and given the validators of a previous poll (so the cycle
  measured is a steady-state one), or, for "changed", their entries are already stored;
- one cycle (`poll_all`) is timed: CPU seconds of the monitor process, wall time, and the peak
  RSS growth during the cycle;
- the baseline, in the same process right after: bare aiohttp conditional GETs of the same URLs
  with the same concurrency (the least any poller must spend), so the ratio is our overhead.

    .venv/bin/python bench/polling.py [--sizes 1000 10000] [--host localhost]

``--host`` names the server by a host name instead of 127.0.0.1, so every new connection resolves
it (through the fetch layer's address guard, which keeps no DNS cache; bare aiohttp keeps one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENTRIES = 5
CONCURRENCY = 64


def feed_body(base: str, i: int) -> bytes:
    from tests.sitegen import rss_feed

    items = [
        {"title": f"Story {i}-{k}", "link": f"{base}/a/{i}-{k}", "guid": f"g{i}-{k}"} for k in range(ENTRIES)
    ]
    return rss_feed(base, items).encode()


def serve(port_queue, host: str = "127.0.0.1") -> None:
    from aiohttp import web

    async def main() -> None:
        base: dict[str, str] = {}

        async def feed(request: web.Request) -> web.Response:
            i = int(request.match_info["i"])
            etag = f'"v1-{i}"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            # "changed": a new ETag each time, same entries (already stored by the bench)
            return web.Response(
                body=feed_body(base["url"], i),
                content_type="application/rss+xml",
                headers={"ETag": f'"v2-{i}-{time.monotonic_ns()}"'},
            )

        app = web.Application()
        app.router.add_get("/feed/{i}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = _free_port()
        site = web.TCPSite(runner, host, port, backlog=4096)
        await site.start()
        base["url"] = f"http://{host}:{port}"
        port_queue.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def scenario(n: int, mode: str, port: int, host: str = "127.0.0.1") -> dict:
    """Runs in its own process: one measured cycle, then the bare-aiohttp baseline."""
    import aiohttp
    from sqlalchemy import insert, update

    from monitor.config import load
    from monitor.dates import utcnow
    from monitor.db.models import Article, ArticleStatus, Source
    from monitor.db.session import transaction
    from monitor.pipeline import poll_all
    from monitor.runtime import Settings, open_runtime

    base = f"http://{host}:{port}"
    urls = [f"{base}/feed/{i}" for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(
            json.dumps(
                {
                    "database": f"sqlite:///{Path(tmp) / 'bench.db'}",
                    "sources": [{"name": f"s{i}", "feed": u, "interval": "10m"} for i, u in enumerate(urls)],
                    "topics": [{"name": "T", "keywords": ["seghrouchni"]}],
                    "channels": [{"name": "log", "url": f"logfile://{Path(tmp) / 'alerts.log'}"}],
                }
            )
        )
        cfg = load(path)
        settings = Settings(host_delay=0, per_host=CONCURRENCY, workers=1)

        async def run() -> dict:
            async with open_runtime(cfg, settings) as rt:
                with transaction(rt.factory) as s:
                    for i in range(n):
                        s.execute(
                            update(Source).where(Source.id == rt.source_ids[f"s{i}"]).values(etag=f'"v1-{i}"')
                        )
                    if mode == "changed":
                        now = utcnow()
                        rows = [
                            {"source_id": rt.source_ids[f"s{i}"], "url": f"{base}/a/{i}-{k}", "fetch_url": f"{base}/a/{i}-{k}",
                             "guid": f"g{i}-{k}", "status": ArticleStatus.DONE, "discovered_at": now, "origin": "live", "attempts": 0}
                            for i in range(n) for k in range(ENTRIES)
                        ]  # fmt: skip
                        s.execute(insert(Article), rows)
                        s.execute(update(Source).values(etag=None))
                rss0, cpu0, wall0 = _rss_kb(), time.process_time(), time.perf_counter()
                reports = await poll_all(rt)
                cpu, wall, rss = time.process_time() - cpu0, time.perf_counter() - wall0, _rss_kb() - rss0
                ok = sum(r.ok for r in reports)
                unchanged = sum(r.not_modified for r in reports)
                new = sum(r.new for r in reports)

            # Baseline: the same conditional GETs with bare aiohttp, same concurrency.
            async def one(session, sem, i, url):
                headers = {"If-None-Match": f'"v1-{i}"'} if mode == "304" else {}
                async with sem, session.get(url, headers=headers) as resp:
                    await resp.read()

            cpu0, wall0 = time.process_time(), time.perf_counter()
            sem = asyncio.Semaphore(CONCURRENCY)
            connector = aiohttp.TCPConnector(limit=CONCURRENCY)
            async with aiohttp.ClientSession(connector=connector) as session:
                await asyncio.gather(*(one(session, sem, i, u) for i, u in enumerate(urls)))
            base_cpu, base_wall = time.process_time() - cpu0, time.perf_counter() - wall0
            return {"n": n, "mode": mode, "cpu": cpu, "wall": wall, "rss_mb": rss / 1024, "ok": ok,
                    "unchanged": unchanged, "new": new, "base_cpu": base_cpu, "base_wall": base_wall}  # fmt: skip

        return asyncio.run(run())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--scenario":
        n, mode, port, host = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
        print(json.dumps(scenario(n, mode, port, host)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--host", default="127.0.0.1", help="the server's host in the source URLs")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(queue, args.host), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    runs = [(n, "304") for n in args.sizes] + [(min(args.sizes), "changed")]
    try:
        print(f"{'scenario':<22} {'CPU s':>7} {'wall s':>7} {'peak RSS +MB':>13} {'CPU/source ms':>14} "
              f"{'bare aiohttp CPU s':>19} {'ratio':>6}")  # fmt: skip
        for n, mode in runs:
            out = subprocess.run(
                [sys.executable, __file__, "--scenario", str(n), mode, str(port), args.host],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
            label = f"{n:,} sources, {'304' if mode == '304' else 'changed'}"
            check = r["unchanged"] if mode == "304" else r["ok"]
            print(f"{label:<22} {r['cpu']:7.2f} {r['wall']:7.2f} {r['rss_mb']:13.1f} {1000 * r['cpu'] / n:14.3f} "
                  f"{r['base_cpu']:19.2f} {r['cpu'] / r['base_cpu']:6.1f}   ({check}/{n} as expected, {r['new']} new)")  # fmt: skip
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
