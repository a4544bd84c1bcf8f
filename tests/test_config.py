"""Config loading: valid files (YAML and JSON) load; every mistake gives file:line: field: message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.checks import load_config
from monitor.config import ConfigError, load, parse_duration

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
database: sqlite:///data/x.db
timezone: Africa/Casablanca
sources:
  - name: MWN
    feed: https://www.moroccoworldnews.com/feed/
    interval: 10m
  - name: Ya Biladi
    html: https://en.yabiladi.com/
    links: "h3 a"
    interval: 1h30m
    timezone: Europe/Paris
topics:
  - name: Seghrouchni
    keywords: ["Seghrouchni", "السغروشني"]
    channels: [press]
  - name: Data centres
    query: '"data centre" OR datacenter'
    exclude: [Gaza]
channels:
  - name: press
    url: json://127.0.0.1:9/hook
  - name: daily
    url: json://127.0.0.1:9/daily
    digest: "0 8 * * *"
"""


def write(tmp_path: Path, text: str, name: str = "monitor.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def assert_error(tmp_path: Path, old: str, new: str, expected: str) -> None:
    """GOOD with ``old`` replaced by ``new`` fails with ``expected`` in a message naming the file."""
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    message = error_of(path)
    assert message.startswith(str(path) + ":"), message
    assert expected in message, message
    assert "Traceback" not in message


def test_good_config_loads(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert [s.name for s in cfg.sources] == ["MWN", "Ya Biladi"]
    assert cfg.sources[0].interval == 600 and cfg.sources[1].interval == 5400
    assert cfg.sources[0].kind == "feed" and cfg.sources[1].kind == "html"
    assert cfg.sources[1].links == "h3 a"
    assert [c.name for c in cfg.topic_channels(cfg.topics[0])] == ["press"]
    assert [c.name for c in cfg.topic_channels(cfg.topics[1])] == ["press", "daily"]
    assert cfg.source_timezone(cfg.sources[1]).key == "Europe/Paris"
    assert cfg.source_timezone(cfg.sources[0]).key == "Africa/Casablanca"


def test_json_config_loads_too(tmp_path):
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(GOOD)
    path = write(tmp_path, json.dumps(data, indent="\t", ensure_ascii=False), "monitor.json")
    cfg = load_config(path)
    assert cfg.topics[0].keywords == ["Seghrouchni", "السغروشني"]


def test_shipped_default_config_is_valid():
    cfg = load_config(ROOT / "config" / "monitor.yaml")
    assert {t.name for t in cfg.topics} >= {"Seghrouchni", "Data centres"}
    assert any(s.kind == "html" for s in cfg.sources) and any(s.kind == "feed" for s in cfg.sources)
    assert cfg.channels, "the default config needs a channel that works without credentials"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    channels: [press]\n", "    channels: [pres]\n",
         ":15: topics[0].channels: unknown channel 'pres' (did you mean 'press'?)"),
        ("    interval: 10m\n", "    interval: 10m\n    colour: red\n", ":7: sources[0].colour: unknown key"),
        ("    interval: 10m\n", "    interval: soon\n", ":6: sources[0].interval: invalid duration 'soon'"),
        ("  - name: Ya Biladi\n", "  - name: MWN\n", ":7: sources[1].name: duplicate name 'MWN'"),
        ("    timezone: Europe/Paris\n", "    timezone: Mars/Olympus\n",
         ":11: sources[1].timezone: unknown timezone 'Mars/Olympus'"),
        ('    digest: "0 8 * * *"\n', '    digest: "0 25 * * *"\n', ":24: channels[1].digest: invalid cron"),
        ("    feed: https://www.moroccoworldnews.com/feed/\n",
         "    feed: https://www.moroccoworldnews.com/feed/\n    html: https://x.example/\n",
         ":4: sources[0]: give exactly one of 'feed'"),
        ("    feed: https://www.moroccoworldnews.com/feed/\n", "    feed: www.moroccoworldnews.com/feed\n",
         ":5: sources[0].feed: not an http(s) URL"),
        ('    links: "h3 a"\n', '    links: "h3 >> a["\n', ":9: sources[1].links: invalid CSS selector"),
        ("    keywords: [\"Seghrouchni\", \"السغروشني\"]\n", "    keywords: []\n",
         ":13: topics[0]: a topic needs 'keywords' or a 'query'"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_field(tmp_path, old, new, expected):
    assert_error(tmp_path, old, new, expected)


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, GOOD.replace("    interval: 10m\n", "    interval: [10m\n"))
    message = error_of(path)
    assert message.startswith(f"{path}:") and "invalid YAML" in message
    line = int(message.split(":")[1])
    assert 6 <= line <= 8


def test_duplicate_yaml_key_is_an_error(tmp_path):
    path = write(tmp_path, GOOD.replace("timezone: Africa/Casablanca\n", "timezone: UTC\ntimezone: UTC\n"))
    assert "invalid YAML" in error_of(path)


def test_env_interpolation(tmp_path, monkeypatch):
    text = GOOD.replace("url: json://127.0.0.1:9/hook", "url: json://${HOOK_HOST}:9/${HOOK_PATH:-hook}")
    monkeypatch.setenv("HOOK_HOST", "10.1.2.3")
    cfg = load_config(write(tmp_path, text))
    assert cfg.channels[0].url == "json://10.1.2.3:9/hook"
    monkeypatch.delenv("HOOK_HOST")
    message = error_of(write(tmp_path, text))
    assert ":21: channels[0].url: environment variable HOOK_HOST is not set" in message


def test_database_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_DATABASE", "sqlite:///elsewhere.db")
    assert load_config(write(tmp_path, GOOD)).database == "sqlite:///elsewhere.db"


def test_config_from_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_CONFIG", str(write(tmp_path, GOOD)))
    assert load_config().sources[0].name == "MWN"


def test_missing_file(tmp_path):
    assert "config file not found" in error_of(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), (45, 45)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "-5m", "0s", "ten minutes", True])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_check_command_exit_code_and_one_line(tmp_path):
    path = write(tmp_path, GOOD.replace("    channels: [press]\n", "    channels: [pres]\n"))
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"{path}:15: topics[0].channels: unknown channel 'pres' (did you mean 'press'?)"
    )


def test_check_command_prints_summary(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(write(tmp_path, GOOD)), "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Seghrouchni" in proc.stdout and "Ya Biladi" in proc.stdout and "digest 0 8 * * *" in proc.stdout


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    query: '\"data centre\" OR datacenter'\n", "    query: '\"data centre OR datacenter'\n",
         ":17: topics[1].query: topic 'Data centres': query '\"data centre OR datacenter': unterminated quote"),
        ("    exclude: [Gaza]\n", "    exclude: [Gaza, '--']\n",
         ":18: topics[1].exclude[1]: topic 'Data centres': exclude term '--': '--' has no letters"),
        ("    url: json://127.0.0.1:9/hook\n", "    url: nope://127.0.0.1:9/hook\n",
         ":21: channels[0].url: invalid apprise URL: unknown scheme 'nope://'"),
    ],
)  # fmt: skip
def test_topic_and_channel_problems_point_at_their_line(tmp_path, old, new, expected):
    assert_error(tmp_path, old, new, expected)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    channels: [press]\n", "    channels: [press]\n    sources: [MWN, Ya Bildi]\n",
         ":16: topics[0].sources[1]: unknown source 'Ya Bildi' (did you mean 'Ya Biladi'?)"),
        ("    channels: [press]\n", "    channels: [press]\n    sources: []\n",
         ":16: topics[0].sources: an empty list matches nothing"),
        ("    channels: [press]\n", "    channels: [press]\n    languages: [fr, fre]\n",
         ":16: topics[0].languages: unknown language 'fre': use two-letter ISO 639-1 codes"),
        ("    query: '\"data centre\" OR datacenter'\n", "    query: 'datacenter~3'\n",
         ":17: topics[1].query: topic 'Data centres': query 'datacenter~3': the edit distance after "
         "'~' must be 1 or 2 (~ alone means 2), not '3' at column 12"),
        ("    exclude: [Gaza]\n", "    exclude: [Gaza~1]\n",
         ":18: topics[1].exclude[0]: topic 'Data centres': exclude term 'Gaza~1': a fuzzy word needs "
         "at least 5 letters ('Gaza' has 4)"),
        ("    query: '\"data centre\" OR datacenter'\n", "    query: 'datacenter OR author:x'\n",
         ":17: topics[1].query: topic 'Data centres': query 'datacenter OR author:x': unknown field "
         "'author:' (use title: or body:; quote text that contains ':') at column 15"),
        ("    query: '\"data centre\" OR datacenter'\n", "    query: 'da*'\n",
         ":17: topics[1].query: topic 'Data centres': query 'da*': a prefix needs at least 3 letters"),
        ("    exclude: [Gaza]\n", "    exclude: [Ga*]\n",
         ":18: topics[1].exclude[0]: topic 'Data centres': exclude term 'Ga*': a prefix needs at least 3"),
    ],
)  # fmt: skip
def test_topic_filters_and_queries_point_at_their_line(tmp_path, old, new, expected):
    assert_error(tmp_path, old, new, expected)


def test_checks_come_from_the_caller(tmp_path):
    """config.py judges neither queries nor channel URLs itself (it imports nothing above it): the
    caller's checks do, and their problems point at their line like the others."""
    text = GOOD.replace("    exclude: [Gaza]\n", "    exclude: [Ga*]\n")
    path = write(tmp_path, text.replace("json://127.0.0.1:9/hook", "nope://x"))
    assert load(path).topics[1].exclude == ["Ga*"]

    def no_daily(cfg):
        return [(("channels", i, "name"), "no daily channel, please") for i, c in enumerate(cfg.channels)
                if c.name == "daily"]  # fmt: skip

    with pytest.raises(ConfigError) as info:
        load(path, checks=[no_daily])
    assert str(info.value) == f"{path}:22: channels[1].name: no daily channel, please"
    message = error_of(path).splitlines()
    assert message[0].startswith(f"{path}:21: channels[0].url: invalid apprise URL"), message
    assert message[1].startswith(f"{path}:18: topics[1].exclude[0]: topic 'Data centres'"), message


def test_topic_filters_load(tmp_path):
    text = GOOD.replace(
        "    channels: [press]\n", "    channels: [press]\n    sources: [MWN]\n    languages: [fr, ar-MA]\n"
    )
    cfg = load_config(write(tmp_path, text))
    assert cfg.topics[0].sources == ["MWN"] and cfg.topics[0].languages == ["fr", "ar-MA"]
    assert cfg.topics[1].sources is None and cfg.topics[1].languages is None
