"""The config file as a document: read YAML (or JSON), interpolate ``${ENV}``, and point a problem
at its line as ``file:line: field: message``.

Apart from the models (config.py) because none of this knows what a source or a topic is: it
works on the round-trip YAML tree, whose nodes remember their lines. Imports nothing of monitor.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

Loc = tuple[str | int, ...]  # a path into the document: ("topics", 2, "channels")


class ConfigError(Exception):
    """A config problem, already formatted as one or more ``file:line: field: message`` lines."""


class Problem(Exception):
    """A problem at ``loc``, before it is given its file and line."""

    def __init__(self, loc: Loc, message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


def read(path: str) -> Any:
    """The YAML (or JSON) document at ``path`` as a round-trip tree; ConfigError if it is not one."""
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


_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(node: Any, loc: Loc = ()) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string, in place where possible."""
    if isinstance(node, dict):
        for key in list(node.keys()):
            node[key] = interpolate(node[key], loc + (key,))
        return node
    if isinstance(node, list):
        for i, item in enumerate(node):
            node[i] = interpolate(item, loc + (i,))
        return node
    if isinstance(node, str) and "${" in node:

        def repl(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            value = os.environ.get(name)
            if value is None:
                if default is not None:
                    return default
                raise Problem(loc, f"environment variable {name} is not set")
            return value

        return _ENV_VAR.sub(repl, node)
    return node


def _line_of(data: Any, loc: Loc) -> int | None:
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


def _field_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def describe(path: str, data: Any, loc: Loc, message: str) -> str:
    """``file:line: field: message`` (no line when the tree does not know it)."""
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


def _clean_loc(loc: tuple) -> Loc:
    # pydantic puts validator/union tags in locs (e.g. 'function-after[...]'); keep real keys.
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\]()]", str(p)))


def describe_validation(path: str, data: Any, exc: ValidationError) -> str:
    """Every error of a pydantic validation, one line each, duplicates dropped."""
    lines = [
        describe(path, data, _clean_loc(tuple(err["loc"])), _pydantic_message(err)) for err in exc.errors()
    ]
    return "\n".join(dict.fromkeys(lines))


def did_you_mean(name: str, known: list[str]) -> str:
    """`` (did you mean 'press'?)`` when a known name is close to ``name``, else ``""``."""
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
