"""Extraction quality and speed on a corpus of article pages with ground truth.

Usage: python bench/extract_quality.py [CORPUS_DIR] [--workers N] [--bare] [--verbose]

CORPUS_DIR holds ground-truth.json ({id: {"url", "articleBody"}}) and html/<id>.html.gz, as in the
article-extraction-benchmark (default: /work/shared/corpus/articles). Prints the mean token F1 of
`extract_page` text against articleBody, pages/s sequentially, and pages/s through Extractor.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import time
from collections import Counter
from pathlib import Path

import trafilatura

from monitor.extract import ExtractError, Extractor, extract_page

TOKEN = re.compile(r"\w+")


def token_f1(predicted: str, truth: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the bag of lower-cased word tokens."""
    pred, gold = Counter(TOKEN.findall(predicted.lower())), Counter(TOKEN.findall(truth.lower()))
    common = sum((pred & gold).values())
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / sum(pred.values()), common / sum(gold.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def load(corpus: Path) -> list[tuple[str, str, bytes, str]]:
    truth = json.loads((corpus / "ground-truth.json").read_text())
    pages = []
    for key, item in sorted(truth.items()):
        body = gzip.decompress((corpus / "html" / f"{key}.html.gz").read_bytes())
        pages.append((key, item["url"], body, item["articleBody"]))
    return pages


def bare_text(body: bytes, url: str) -> str:
    doc = trafilatura.bare_extraction(body, url=url, with_metadata=True, include_comments=False)
    return doc.text if doc is not None else ""


async def through_pool(pages, workers: int) -> tuple[float, int]:
    with Extractor(workers=workers) as extractor:
        await extractor.extract(pages[0][2], pages[0][1])  # start the pool outside the clock
        started = time.perf_counter()
        results = await asyncio.gather(
            *(extractor.extract(body, url) for _, url, body, _ in pages), return_exceptions=True
        )
        elapsed = time.perf_counter() - started
    return elapsed, sum(isinstance(r, ExtractError) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=Path("/work/shared/corpus/articles"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bare", action="store_true", help="also score bare trafilatura")
    parser.add_argument("--verbose", action="store_true", help="one line per page")
    args = parser.parse_args()
    pages = load(args.corpus)

    scores, failures, started = [], 0, time.perf_counter()
    for key, url, body, truth in pages:
        try:
            result = extract_page(body, url)
        except ExtractError as error:
            failures += 1
            scores.append((0.0, 0.0, 0.0))
            print(f"{key[:8]} FAILED {error}")
            continue
        scores.append(token_f1(result.text, truth))
        if args.verbose:
            p, r, f = scores[-1]
            print(f"{key[:8]} P={p:.2f} R={r:.2f} F1={f:.2f} {result.published} {result.language} {url[:60]}")
    elapsed = time.perf_counter() - started
    n = len(pages)
    mean = [sum(s[i] for s in scores) / n for i in range(3)]
    print(f"extract_page: {n} pages, {failures} failed, P={mean[0]:.3f} R={mean[1]:.3f} F1={mean[2]:.3f}")
    print(f"sequential: {n / elapsed:.1f} pages/s")

    if args.bare:
        started = time.perf_counter()
        bare = [token_f1(bare_text(body, url), truth)[2] for _, url, body, truth in pages]
        print(f"bare trafilatura: F1={sum(bare) / n:.3f}, {n / (time.perf_counter() - started):.1f} pages/s")

    elapsed, failed = asyncio.run(through_pool(pages, args.workers))
    print(f"Extractor({args.workers} workers): {n / elapsed:.1f} pages/s, {failed} failed")


if __name__ == "__main__":
    main()
