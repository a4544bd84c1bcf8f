"""The daemon and the other commands, run as a user would (subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.helpers import SEGHROUCHNI, cli, make_config, paragraphs, serve_outlet
from tests.servers import Response
from tests.sitegen import article_page


def test_daemon_polls_alerts_and_stops_cleanly_on_sigterm(tmp_path, site):
    serve_outlet(site)
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        [{"name": "Atlas", "feed": site.url("/feed.xml"), "interval": "2s"}],
        site.base[7:] + "/hook",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", cfg.path, "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(site.posts("/hook")) < 2 or site.hits("/feed.xml") < 2):
            time.sleep(0.2)
        assert len(site.posts("/hook")) == 2, "the daemon should alert the two matching articles"
        assert site.hits("/feed.xml") >= 2, "the daemon should poll again after the interval"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert len(site.posts("/hook")) == 2


def test_inspect_file_json(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        article_page(
            "Digital strategy presented",
            paragraphs(SEGHROUCHNI),
            teasers=["Data centre opens in Tangier"],
            canonical="https://atlas.example/2026/11/digital-strategy/",
        ),
        encoding="utf-8",
    )
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [], "127.0.0.1:9/hook")
    proc = cli("--config", cfg.path, "inspect", str(page), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("url", "title", "text", "published", "language", "author", "matches"):
        assert key in data
    assert data["title"] == "Digital strategy presented"
    assert data["language"] == "en" and data["author"] == "Sara Benali"
    assert data["published"].startswith("2026-11-20T09:30:00+01:00")
    assert [m["topic"] for m in data["matches"]] == ["Seghrouchni"]
    assert "Seghrouchni" in data["matches"][0]["snippet"]


def test_inspect_shows_the_spelling_a_fuzzy_term_found(tmp_path):
    page = tmp_path / "page.html"
    text = "Digital transition minister Aml Al-Fallah Sghrouchni said the plan would create jobs."
    page.write_text(article_page("Digital plan", paragraphs(text)), encoding="utf-8")
    topics = [{"name": "Seghrouchni", "keywords": ["El Fallah~1 Seghrouchni~1"]}]
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [], "127.0.0.1:9/hook", topics=topics)
    proc = cli("--config", cfg.path, "inspect", str(page), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (found,) = json.loads(proc.stdout)["matches"]
    assert found["matched"] == ["Al-Fallah Sghrouchni ≈ El Fallah Seghrouchni"]
    assert found["hits"][0]["found"] == "Al-Fallah Sghrouchni" and found["hits"][0]["approximate"] is True
    assert [found["snippet"][s:e] for s, e in found["highlights"]] == ["Al-Fallah Sghrouchni"]
    proc = cli("--config", cfg.path, "inspect", str(page), cwd=tmp_path)
    assert "matches Seghrouchni: Al-Fallah Sghrouchni ≈ El Fallah Seghrouchni in body" in proc.stdout


def test_inspect_url_and_missing_target(tmp_path, site):
    site.route("/a/", Response(article_page("Tangier data centre", paragraphs("A new data centre opens."))))
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [], "127.0.0.1:9/hook")
    proc = cli("--config", cfg.path, "inspect", site.url("/a/"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Tangier data centre" in proc.stdout and "matches Data centres" in proc.stdout
    proc = cli("--config", cfg.path, "inspect", site.url("/nope/"), cwd=tmp_path)
    assert proc.returncode == 1 and "404" in proc.stderr and "Traceback" not in proc.stderr


def test_db_upgrade_and_default_config_paths(tmp_path):
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'sub' / 'm.db'}", [], "127.0.0.1:9/hook")
    proc = cli("--config", cfg.path, "db", "upgrade", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sub" / "m.db").exists()
    env = {**os.environ, "MONITOR_CONFIG": cfg.path}
    proc = cli("check", cwd=tmp_path, env=env)
    assert proc.returncode == 0 and str(cfg.path) in proc.stdout


def test_bad_since_date_is_a_clear_error(tmp_path):
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [], "127.0.0.1:9/hook")
    proc = cli("--config", cfg.path, "matches", "--since", "last tuesday", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("--since: invalid date 'last tuesday'")


def test_unreachable_database_is_one_line(tmp_path):
    cfg = make_config(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:9/none", [], "127.0.0.1:9/hook")
    proc = cli("--config", cfg.path, "matches", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("database postgresql+psycopg://")


def test_alerts_list_retry_and_notify_test(tmp_path, site):
    serve_outlet(site)
    site.route("/hook", Response("down", status=500, content_type="text/plain"))
    cfg = make_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        [{"name": "Atlas", "feed": site.url("/feed.xml")}],
        site.base[7:] + "/hook",
    )
    assert cli("--config", cfg.path, "run", "--once", cwd=tmp_path).returncode == 0
    proc = cli("--config", cfg.path, "alerts", "--status", "failed", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 2 and {r["topic"] for r in rows} == {"Seghrouchni", "Data centres"}
    assert all(r["attempts"] == 1 and "500" in r["last_error"] for r in rows)

    proc = cli("--config", cfg.path, "alerts", "retry", "--all", cwd=tmp_path)
    assert proc.returncode == 0 and "requeued: 2" in proc.stdout
    pending = json.loads(
        cli("--config", cfg.path, "alerts", "-s", "pending", "-f", "json", cwd=tmp_path).stdout
    )
    assert sorted(r["id"] for r in pending) == sorted(r["id"] for r in rows)
    assert cli("--config", cfg.path, "alerts", "retry", "999", cwd=tmp_path).returncode == 1
    bad = cli("--config", cfg.path, "alerts", "--status", "lost", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown status 'lost'" in bad.stderr

    site.route("/hook", Response("ok", content_type="text/plain"))
    before = len(site.posts("/hook"))
    proc = cli("--config", cfg.path, "notify-test", "hook", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(site.posts("/hook")) == before + 1 and "[test]" in site.posts("/hook")[-1].json()["title"]
    proc = cli("--config", cfg.path, "notify-test", "hok", cwd=tmp_path)
    assert proc.returncode == 1 and "unknown channel 'hok'" in proc.stderr
