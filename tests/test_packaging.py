"""The wheel users install (``pip install .``, the Dockerfile) holds and runs what the tests test.

The suite itself runs on an editable install, which cannot see a package missing from the wheel;
this builds the wheel, installs it (without dependencies: they come from the test environment's
site-packages through a ``.pth`` file) into a fresh virtual environment, and runs every command
from there, in a directory outside the checkout so nothing is imported from the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "monitor.yaml"


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MONITOR_CONFIG", "MONITOR_DATABASE", "PYTHONPATH")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built as the Dockerfile builds it: from pyproject.toml, README.md and monitor/ alone, in a
    clean copy (a stale build/ directory in the checkout would hide a package left out)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "monitor", src / "monitor", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    build = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
        cwd=out,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (found,) = out.glob("monitor-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed (not editable); returns its bin directory."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], home).stdout.strip())
    # Dependencies from the test environment; its .pth files (the editable install's finder among
    # them) are not processed from a path added this way, so `monitor` can only come from the wheel.
    (site / "zz_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        cwd=home,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    return home / "bin"


def _source_files() -> set[str]:
    """Every file the package ships from the source tree (code and package data)."""
    files = set()
    for path in (ROOT / "monitor").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            files.add(path.relative_to(ROOT).as_posix())
    return files


def test_wheel_holds_every_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_source_files() - names)
    assert not missing, f"not in the wheel: {missing}"


def test_installed_wheel_imports_every_module_from_itself(installed, tmp_path):
    code = (
        "import importlib, pkgutil, monitor\n"
        "print(monitor.__file__)\n"
        "for m in pkgutil.walk_packages(monitor.__path__, 'monitor.'):\n"
        "    if m.name.startswith('monitor.migrations.versions') or m.name == 'monitor.migrations.env':\n"
        "        continue  # run by Alembic, not importable on their own\n"
        "    importlib.import_module(m.name)\n"
    )
    res = _run([str(installed / "python"), "-c", code], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].startswith(str(installed.parent)), res.stdout


def _commands(bin_dir: Path, cwd: Path) -> list[list[str]]:
    """Every command path of the CLI, read from the installed app itself."""
    code = (
        "import typer.main\n"
        "from monitor.cli import app\n"
        "def walk(cmd, path):\n"
        "    yield path\n"
        "    for name, sub in getattr(cmd, 'commands', {}).items():\n"
        "        yield from walk(sub, path + [name])\n"
        "for p in walk(typer.main.get_command(app), []):\n"
        "    print(' '.join(p))\n"
    )
    res = _run([str(bin_dir / "python"), "-c", code], cwd=cwd)
    assert res.returncode == 0, res.stderr
    return [line.split() for line in res.stdout.splitlines()]


def test_installed_wheel_runs_every_command(installed, tmp_path):
    monitor = str(installed / "monitor")
    commands = _commands(installed, tmp_path)
    assert ["backfill"] in commands and ["db", "upgrade"] in commands
    for path in commands:
        res = _run([monitor, *path, "--help"], cwd=tmp_path)
        assert res.returncode == 0, f"monitor {' '.join(path)} --help: {res.stderr}"
        assert "Usage" in res.stdout

    res = _run([monitor, "--config", str(CONFIG), "check"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "valid" in res.stdout


def test_installed_wheel_runs_once_and_backfills_offline(installed, tmp_path):
    """The shipped config, no network: every source named with its error, exit 0, no traceback."""
    monitor = str(installed / "monitor")
    res = _run([monitor, "--config", str(CONFIG), "run", "--once"], cwd=tmp_path, timeout=180)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert (tmp_path / "data" / "monitor.db").exists()
    res = _run(
        [monitor, "--config", str(CONFIG), "backfill", "--from", "2025-07-01", "--to", "2025-07-10", "--source", "MAP"],
        cwd=tmp_path,
        timeout=180,
    )
    assert "ModuleNotFoundError" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert "MAP" in res.stdout + res.stderr
