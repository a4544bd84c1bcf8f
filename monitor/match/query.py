"""Parse a topic's query (Lucene syntax, with luqum) into a small tree that the engine evaluates.

Supported:

- words, ``"quoted phrases"`` (a word with inner separators, ``data-centre``, is a phrase too);
- ``AND``, ``OR``, ``NOT`` in capitals, parentheses; ``AND`` binds tighter than ``OR``;
- prefixes: a trailing ``*`` (``minist*``), at least 3 letters before it;
- proximity: ``"seghrouchni minister"~5``, every word, in any order, with at most 5 other words
  among them;
- fields: ``title:x``, ``body:(x OR y)``; without a field a term may be in either;
- terms side by side with no operator follow Lucene's rules for its default operator (OR): any of
  the plain terms, none of the ``-term`` / ``NOT term`` ones, all of the ``+term`` ones. So
  ``Seghrouchni -football`` is ``Seghrouchni AND NOT football`` and ``a b NOT c`` is
  ``(a OR b) AND NOT c``.

- fuzzy words: ``Seghrouchni~1``, ``Seghrouchni~2``, ``Seghrouchni~`` (= 2), also per word inside
  a phrase (``"El Fallah~1 Seghrouchni~1"``, which luqum leaves as plain phrase text); the marker
  stays in the term's text and :mod:`monitor.match.terms` reads it, for query terms and keywords
  alike.

Everything else is rejected with a :class:`QueryError` naming the topic, the query, the problem
and its column, rather than silently matched as text: regular expressions, ranges, boosts ``^``,
other wildcards, other fields, ``&&`` / ``||`` / ``!``, and lower-case ``and`` / ``or`` / ``not``
(an operator written in the wrong case; quote the word to search it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from luqum import tree as lq
from luqum.exceptions import IllegalCharacterError, ParseError
from luqum.parser import lexer as _lexer
from luqum.thread import parse as _luqum_parse

__all__ = ["FIELDS", "And", "Field", "Near", "Node", "Not", "Or", "QueryError", "Term", "parse", "terms"]

FIELDS = ("title", "body")


class QueryError(ValueError):
    """A topic's query (or term) cannot be used; the message names the topic, the query and why."""

    def __init__(
        self,
        topic: str | None,
        query: str,
        problem: str,
        position: int | None = None,
        kind: str = "query",
    ) -> None:
        self.topic = topic
        self.query = query
        self.problem = problem
        self.position = position
        where = f" at column {position + 1}" if position is not None else ""
        who = f"topic {topic!r}: " if topic is not None else ""
        super().__init__(f"{who}{kind} {query!r}: {problem}{where}")


@dataclass(frozen=True)
class Term:
    """A word or phrase as written (no quotes, no trailing ``*``); ``position`` is its offset."""

    text: str
    position: int = 0
    quoted: bool = False
    prefix: bool = False  # the last word is a prefix (``minist*``)


@dataclass(frozen=True)
class Near:
    """``"a b c"~distance``: every word, in any order, with at most ``distance`` other words among them."""

    text: str
    distance: int
    position: int = 0


@dataclass(frozen=True)
class Field:
    """``name:child``: the child only looks at the title or only at the body."""

    name: str
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Term | Near | Field | And | Or | Not

_LOWER_OPERATORS = frozenset({"and", "or", "not"})
_SYMBOL_OPERATORS = {"&&": "AND", "||": "OR", "!": "NOT"}
_OPERATOR_TOKENS = {"AND_OP", "OR_OP", "NOT", "PLUS", "MINUS", "COLUMN"}
_ESCAPE = re.compile(r"\\(.)")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text)


class _Converter:
    """luqum tree → our tree, rejecting what the engine does not do."""

    def __init__(self, query: str, topic: str | None) -> None:
        self.query = query
        self.topic = topic

    def error(self, problem: str, position: int | None) -> QueryError:
        return QueryError(self.topic, self.query, problem, position)

    def convert(self, item: lq.Item, field: str | None) -> Node:
        if isinstance(item, lq.Word):
            return self.word(item)
        if isinstance(item, lq.Phrase):
            return Term(self.phrase_text(item), item.pos, quoted=True)
        if isinstance(item, lq.Proximity):
            return self.proximity(item)
        if isinstance(item, lq.Fuzzy):
            return self.fuzzy(item)
        if isinstance(item, lq.BaseGroup):
            return self.convert(item.expr, field)
        if isinstance(item, lq.SearchField):
            return self.search_field(item, field)
        if isinstance(item, lq.Not | lq.Prohibit):
            return Not(self.convert(item.a, field))
        if isinstance(item, lq.Plus):
            return self.convert(item.a, field)
        if isinstance(item, lq.AndOperation):
            return And(tuple(self.convert(c, field) for c in item.operands))
        if isinstance(item, lq.OrOperation):
            for child in item.operands:
                if isinstance(child, lq.Plus):
                    raise self.error("'+' inside OR is ambiguous: use AND", child.pos)
            return Or(tuple(self.convert(c, field) for c in item.operands))
        if isinstance(item, lq.UnknownOperation):
            return self.implicit(item, field)
        raise self.error(self.unsupported(item), item.pos)

    def unsupported(self, item: lq.Item) -> str:
        if isinstance(item, lq.Regex):
            return "regular expressions are not supported (quote the text to search it)"
        if isinstance(item, lq.Range | lq.From | lq.To):
            return "ranges are not supported"
        if isinstance(item, lq.Boost):
            return "boosts ('^') are not supported: they change ranking, not matching"
        return f"{type(item).__name__} is not supported"

    def word(self, item: lq.Word) -> Term:
        value: str = item.value
        for symbol, operator in _SYMBOL_OPERATORS.items():
            if value == symbol or (symbol == "!" and value.startswith("!")):
                raise self.error(f"write {operator} instead of {symbol!r}", item.pos)
        if value.lower() in _LOWER_OPERATORS:
            raise self.error(
                f"write the operator in capitals ({value.upper()}) or quote the word to search it "
                f'("{value}")',
                item.pos,
            )
        wildcards = list(item.iter_wildcards())
        if not wildcards:
            return Term(_unescape(value), item.pos)
        (start, end), char = wildcards[0]
        if len(wildcards) > 1 or char != "*" or end != len(value):
            raise self.error(
                "only a trailing '*' is supported (a prefix such as minist*); no '?' or inner '*'",
                item.pos + start,
            )
        if start == 0:
            raise self.error("'*' alone would match every word: give a prefix such as minist*", item.pos)
        return Term(_unescape(value[:-1]), item.pos, prefix=True)

    def fuzzy(self, item: lq.Fuzzy) -> Term:
        """``word~N``: the word with its marker, as written (the edit distance is checked with the
        term's words, see :func:`monitor.match.terms.parse_term`)."""
        if not isinstance(item.term, lq.Word) or list(item.term.iter_wildcards()):
            raise self.error("'~' (fuzzy) applies to a plain word, without '*' or '?'", item.pos)
        raw = self.query[item.pos : item.pos + item.size]
        self.word(item.term)  # the same checks as a plain word (operators in lower case …)
        return Term(_unescape(item.term.value) + raw[raw.rfind("~") :], item.pos)

    def phrase_text(self, item: lq.Phrase) -> str:
        raw = item.value[1:-1]
        if not raw.strip():
            raise self.error("empty phrase", item.pos)
        star = raw.find("*")
        if star >= 0:
            raise self.error(
                "'*' inside quotes is not a wildcard: write a prefix without quotes (minist*)",
                item.pos + 1 + star,
            )
        return _unescape(raw)

    def proximity(self, item: lq.Proximity) -> Near:
        if not isinstance(item.term, lq.Phrase):
            raise self.error("'~N' only applies to a quoted phrase", item.pos)
        if item._implicit_degree:
            raise self.error("give the distance after '~', e.g. \"word1 word2\"~5", item.pos + item.size - 1)
        return Near(self.phrase_text(item.term), int(item.degree), item.pos)

    def search_field(self, item: lq.SearchField, field: str | None) -> Field:
        name = item.name.lower()
        if name not in FIELDS:
            raise self.error(
                f"unknown field {item.name + ':'!r} (use title: or body:; quote text that contains ':')",
                item.pos,
            )
        if field is not None and field != name:
            raise self.error(f"{name}: inside {field}: can never match", item.pos)
        return Field(name, self.convert(item.expr, name))

    def implicit(self, item: lq.UnknownOperation, field: str | None) -> Node:
        """Terms side by side: Lucene's clauses (``+`` required, ``-``/NOT excluded, others any of)."""
        required: list[Node] = []
        optional: list[Node] = []
        excluded: list[Node] = []
        for child in item.operands:
            if isinstance(child, lq.Plus):
                required.append(self.convert(child.a, field))
            elif isinstance(child, lq.Not | lq.Prohibit):
                excluded.append(Not(self.convert(child.a, field)))
            else:
                optional.append(self.convert(child, field))
        parts = list(required)
        if optional and not required:  # with a required term, optional ones do not change the result
            parts.append(optional[0] if len(optional) == 1 else Or(tuple(optional)))
        parts += excluded
        return parts[0] if len(parts) == 1 else And(tuple(parts))


# --------------------------------------------------------------------------- syntax errors


def _tokens(query: str) -> list[tuple[str, int, str]]:
    """(type, offset, text) of the query's tokens, up to the first one luqum cannot read."""
    lexer = _lexer.clone()
    lexer.input(query)
    found = []
    try:
        while (token := lexer.token()) is not None:
            value = token.value
            text = value.value if isinstance(value, lq.Term) else str(value)
            found.append((token.type, token.lexpos, text))
    except ParseError:
        pass
    return found


def _operator(tokens: list[tuple[str, int, str]], index: int) -> tuple[str, int]:
    """The operator token at ``index`` and its offset: ``AND``, ``-``, or ``title:`` for a field."""
    kind, pos, text = tokens[index]
    if kind == "COLUMN" and index > 0:
        return tokens[index - 1][2] + text, tokens[index - 1][1]
    return text, pos


def _syntax_problem(query: str, message: str) -> tuple[str, int | None]:
    """A readable problem and its offset, from luqum's syntax error message."""
    tokens = _tokens(query)
    unexpected = re.search(r"unexpected\s+'(.*)' at position (\d+)!?$", message)
    if unexpected is None:  # the query ended early
        opened = []
        for kind, pos, _ in tokens:
            if kind == "LPAREN":
                opened.append(pos)
            elif kind == "RPAREN" and opened:
                opened.pop()
        if opened:
            return "'(' is never closed", opened[-1]
        if tokens and tokens[-1][0] in _OPERATOR_TOKENS:
            operator, at = _operator(tokens, len(tokens) - 1)
            return f"{operator!r} has no term after it", at
        return "the query ends where a term is expected", len(query)
    text, pos = unexpected.group(1), int(unexpected.group(2))
    index = next((i for i, t in enumerate(tokens) if t[1] == pos), None)
    kind = tokens[index][0] if index is not None else ""
    previous = tokens[index - 1] if index else None
    if kind == "RPAREN":
        if previous and previous[0] == "LPAREN":
            return "empty parentheses", previous[1]
        if previous and previous[0] in _OPERATOR_TOKENS:
            operator, at = _operator(tokens, index - 1)
            return f"{operator!r} has no term after it", at
        return "unexpected ')'", pos
    if kind in ("AND_OP", "OR_OP"):
        if previous is None or previous[0] == "LPAREN":
            return f"{text!r} has no term before it", pos
        if previous[0] in _OPERATOR_TOKENS:
            return f"{previous[2]!r} must be followed by a term, not {text!r}", pos
    return f"unexpected {text!r}", pos


def _luqum_tree(query: str, topic: str | None) -> lq.Item:
    try:
        return _luqum_parse(query)
    except IllegalCharacterError as exc:
        found = re.search(r"at position (\d+)$", str(exc))
        pos = int(found.group(1)) if found else 0
        char = query[pos : pos + 1]
        if char == '"':
            problem = "unterminated quote"
        elif char == "'":
            problem = 'use double quotes for phrases ("like this")'
        else:
            problem = f"unexpected character {char!r}"
        raise QueryError(topic, query, problem, pos) from None
    except ParseError as exc:
        problem, pos = _syntax_problem(query, str(exc))
        raise QueryError(topic, query, problem, pos) from None
    except ValueError:  # luqum's int() of a proximity such as "a b"~1.5
        found = re.search(r"~[\d.]*", query)
        raise QueryError(
            topic, query, "the distance after '~' must be a whole number", found.start() if found else None
        ) from None


def parse(query: str, topic: str | None = None) -> Node:
    """Parse ``query`` into a tree of :class:`Term`, :class:`Near`, :class:`Field`, :class:`And`,
    :class:`Or` and :class:`Not`.

    Raises :class:`QueryError` naming ``topic``, the query, the problem and its column.
    """
    if not query.strip():
        raise QueryError(topic, query, "the query is empty")
    return _Converter(query, topic).convert(_luqum_tree(query, topic), None)


def terms(node: Node) -> Iterator[Term | Near]:
    """Every term of a tree, left to right."""
    if isinstance(node, Term | Near):
        yield node
    elif isinstance(node, Not | Field):
        yield from terms(node.child)
    else:
        for child in node.children:
            yield from terms(child)
