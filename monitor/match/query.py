"""Parse a topic's boolean query into a small tree that the engine evaluates.

First version of the language (a later one parses full Lucene syntax with luqum and returns the
same node types):

- bare words and ``"quoted phrases"``; a word with inner separators (``data-centre``) is a phrase;
- ``AND``, ``OR``, ``NOT`` in upper case (lower-case ``and``/``or``/``not`` are plain words, as in
  Lucene); parentheses group;
- precedence: ``NOT`` binds tightest, then ``AND``, then ``OR``; ``x NOT y`` means ``x AND NOT y``;
- words side by side with no operator are OR-ed (Lucene's default operator), so
  ``a b NOT c`` is ``a OR (b AND NOT c)``; write ``(a b) NOT c`` to exclude ``c`` from both.

Wildcards, fuzzy and proximity (``~``), boosts (``^``), fields (``title:``), ranges and ``+``/``-``
prefixes are rejected with a :class:`QueryError` rather than silently matched as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["And", "Node", "Not", "Or", "QueryError", "Term", "parse", "terms"]


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
    """A word or phrase, as written (without its quotes); ``position`` is its offset in the query."""

    text: str
    position: int = 0
    quoted: bool = False


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Term | And | Or | Not

_LEXEME = re.compile(r'\s+|(?P<paren>[()])|(?P<phrase>"[^"]*")|(?P<quote>")|(?P<word>[^\s()"]+)')
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_UNSUPPORTED = re.compile(r"[*?~^:\[\]{}\\]")
_UNSUPPORTED_WHAT = {
    "*": "wildcards",
    "?": "wildcards",
    "~": "fuzzy/proximity search (~)",
    "^": "boosts (^)",
    ":": "field queries (field:)",
    "[": "ranges",
    "]": "ranges",
    "{": "ranges",
    "}": "ranges",
    "\\": "escapes (\\)",
}


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "term"
    position: int
    text: str = ""
    quoted: bool = False


def _lex(query: str, topic: str | None) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(query):
        m = _LEXEME.match(query, pos)
        assert m is not None  # the last alternative matches any non-space, non-quote character
        if m.group("paren"):
            tokens.append(_Token(m.group("paren"), pos))
        elif m.group("phrase"):
            text = m.group("phrase")[1:-1]
            if not text.strip():
                raise QueryError(topic, query, "empty phrase", pos)
            tokens.append(_Token("term", pos, text, quoted=True))
        elif m.group("quote"):
            raise QueryError(topic, query, "unterminated quote", pos)
        elif m.group("word"):
            tokens.append(_word_token(m.group("word"), pos, query, topic))
        pos = m.end()
    return tokens


def _word_token(word: str, pos: int, query: str, topic: str | None) -> _Token:
    if word in _OPERATORS:
        return _Token(word, pos)
    bad = _UNSUPPORTED.search(word)
    if bad:
        what = _UNSUPPORTED_WHAT[bad.group()]
        raise QueryError(
            topic, query, f"{what} not supported yet in {word!r} (quote it to search the text)", pos
        )
    if word[0] in "+-" or word in ("&&", "||", "!"):
        raise QueryError(topic, query, f"use AND / OR / NOT instead of {word!r}", pos)
    return _Token("term", pos, word)


class _Parser:
    def __init__(self, query: str, topic: str | None) -> None:
        self.query = query
        self.topic = topic
        self.tokens = _lex(query, topic)
        self.i = 0

    def error(self, problem: str, position: int | None) -> QueryError:
        return QueryError(self.topic, self.query, problem, position)

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise self.error("the query is empty", None)
        node = self.or_expr()
        extra = self.peek()
        if extra is not None:  # only a stray ")" can stop or_expr early
            raise self.error("unexpected ')'", extra.position)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind != ")":
            if token.kind == "OR":
                self.take()
                self.expect_operand(token)
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while (token := self.peek()) is not None and token.kind in ("AND", "NOT"):
            self.take()
            self.expect_operand(token)
            operand = self.unary()
            children.append(Not(operand) if token.kind == "NOT" else operand)
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "NOT":
            self.take()
            self.expect_operand(token)
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.error("the query ends where a term is expected", len(self.query))
        if token.kind == "term":
            self.take()
            return Term(token.text, token.position, token.quoted)
        if token.kind == "(":
            self.take()
            if (inner := self.peek()) is not None and inner.kind == ")":
                raise self.error("empty parentheses", token.position)
            node = self.or_expr()
            close = self.peek()
            if close is None:
                raise self.error("'(' is never closed", token.position)
            self.take()
            return node
        if token.kind == ")":
            raise self.error("unexpected ')'", token.position)
        raise self.error(f"{token.kind!r} has no term before it", token.position)

    def expect_operand(self, operator: _Token) -> None:
        """After an operator, a term, '(' or NOT must follow."""
        token = self.peek()
        if token is None:
            raise self.error(f"{operator.kind!r} has no term after it", operator.position)
        if token.kind in ("AND", "OR", ")"):
            raise self.error(
                f"{operator.kind!r} must be followed by a term, not {token.kind!r}", token.position
            )


def parse(query: str, topic: str | None = None) -> Node:
    """Parse ``query`` into a tree of :class:`Term`, :class:`And`, :class:`Or` and :class:`Not`.

    Raises :class:`QueryError` naming ``topic``, the query, the problem and its column.
    """
    return _Parser(query, topic).parse()


def terms(node: Node) -> Iterator[Term]:
    """Every term of a tree, left to right."""
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from terms(node.child)
    else:
        for child in node.children:
            yield from terms(child)
