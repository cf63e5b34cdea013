"""A parser for the FHIRPath subset that SQL-on-FHIR v2 ViewDefinitions use.

Hand-written recursive descent over a small tokenizer. The output is a tiny AST that
``views.compiler`` turns into SQL; nothing here evaluates FHIRPath against data.
Every node carries ``pos``, the character offset in the expression, so that errors
(syntax, unsupported function) name where they happen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from axhub.errors import ViewDefinitionError


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Literal(Node):
    value: object
    type: str  # string, integer, decimal, boolean, date, dateTime, time, empty


@dataclass(frozen=True)
class Constant(Node):
    name: str


@dataclass(frozen=True)
class This(Node):
    pass


@dataclass(frozen=True)
class Member(Node):
    base: Node | None
    name: str


@dataclass(frozen=True)
class Call(Node):
    base: Node | None
    name: str
    args: tuple[Node, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Index(Node):
    base: Node
    index: Node


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class TypeOp(Node):
    op: str  # is / as
    base: Node
    type_name: str


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<datetime>@\d{4}(?:-\d{2}(?:-\d{2})?)?
        (?:T(?:\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
  | (?P<time>@T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<delim>`(?:[^`\\]|\\.)*`)
  | (?P<special>\$this|\$index|\$total)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|!~|\{\}|[-+*/&|=~<>()\[\].,%])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "'": "'", '"': '"', "`": "`", "\\": "\\"}


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(expr: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise FhirPathSyntaxError(expr, pos, f"unexpected character {expr[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(expr)))
    return tokens


class FhirPathSyntaxError(ViewDefinitionError):
    """A FHIRPath expression that does not parse (names the offset and the reason)."""

    def __init__(self, expr: str, pos: int, reason: str) -> None:
        super().__init__(
            f"invalid FHIRPath {expr!r} at offset {pos}: {reason}", reason=reason, position=pos
        )


# binary operator precedence, lowest first
_LEVELS: list[tuple[str, ...]] = [
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "~", "!=", "!~"),
    ("<=", "<", ">", ">="),
    ("|",),
    ("is", "as"),
    ("+", "-", "&"),
    ("*", "/", "div", "mod"),
]
_WORD_OPS = {"implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod"}


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = tokenize(expr)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        tok = self.take()
        if tok.text != text:
            raise FhirPathSyntaxError(self.expr, tok.pos, f"expected {text!r}, found {tok.text!r}")
        return tok

    def is_op(self, tok: Token, ops: tuple[str, ...]) -> bool:
        if tok.kind == "op":
            return tok.text in ops
        return tok.kind == "ident" and tok.text in ops and tok.text in _WORD_OPS

    def parse(self) -> Node:
        if self.peek().kind == "eof":
            raise FhirPathSyntaxError(self.expr, 0, "empty expression")
        node = self.binary(0)
        tok = self.peek()
        if tok.kind != "eof":
            raise FhirPathSyntaxError(self.expr, tok.pos, f"unexpected {tok.text!r}")
        return node

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.is_op(self.peek(), _LEVELS[level]):
            tok = self.take()
            if tok.text in ("is", "as"):
                left = TypeOp(tok.pos, tok.text, left, self.type_name())
                continue
            right = self.binary(level + 1)
            left = Binary(tok.pos, tok.text, left, right)
        return left

    def type_name(self) -> str:
        tok = self.take()
        if tok.kind not in ("ident", "delim"):
            raise FhirPathSyntaxError(self.expr, tok.pos, "expected a type name")
        name = tok.text.strip("`")
        while self.peek().text == "." and self.tokens[self.i + 1].kind == "ident":
            self.take()
            name = self.take().text  # FHIR.Quantity / System.String -> last part
        return name

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("+", "-"):
            self.take()
            return Unary(tok.pos, tok.text, self.unary())
        return self.postfix(self.term())

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok.text == "." and tok.kind == "op":
                self.take()
                node = self.invocation(node)
            elif tok.text == "[" and tok.kind == "op":
                self.take()
                idx = self.binary(0)
                self.expect("]")
                node = Index(tok.pos, node, idx)
            else:
                return node

    def invocation(self, base: Node | None) -> Node:
        tok = self.take()
        if tok.kind == "special":
            if tok.text == "$this":
                return This(tok.pos)
            raise FhirPathSyntaxError(self.expr, tok.pos, f"{tok.text} is not supported here")
        if tok.kind not in ("ident", "delim"):
            raise FhirPathSyntaxError(self.expr, tok.pos, f"expected a name, found {tok.text!r}")
        name = _unescape(tok.text[1:-1]) if tok.kind == "delim" else tok.text
        if self.peek().text == "(" and tok.kind == "ident":
            self.take()
            args: list[Node] = []
            if self.peek().text != ")":
                args.append(self.binary(0))
                while self.peek().text == ",":
                    self.take()
                    args.append(self.binary(0))
            self.expect(")")
            return Call(tok.pos, base, name, tuple(args))
        return Member(tok.pos, base, name)

    def term(self) -> Node:
        tok = self.peek()
        if tok.kind == "number":
            self.take()
            if "." in tok.text:
                return Literal(tok.pos, tok.text, "decimal")
            return Literal(tok.pos, int(tok.text), "integer")
        if tok.kind == "string":
            self.take()
            return Literal(tok.pos, _unescape(tok.text[1:-1]), "string")
        if tok.kind == "datetime":
            self.take()
            text = tok.text[1:]
            return Literal(tok.pos, text, "dateTime" if "T" in text else "date")
        if tok.kind == "time":
            self.take()
            return Literal(tok.pos, tok.text[2:], "time")
        if tok.kind == "op" and tok.text == "{}":
            self.take()
            return Literal(tok.pos, None, "empty")
        if tok.kind == "op" and tok.text == "(":
            self.take()
            node = self.binary(0)
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "%":
            self.take()
            name_tok = self.take()
            if name_tok.kind == "ident":
                return Constant(tok.pos, name_tok.text)
            if name_tok.kind in ("delim", "string"):
                return Constant(tok.pos, _unescape(name_tok.text[1:-1]))
            raise FhirPathSyntaxError(self.expr, name_tok.pos, "expected a constant name after %")
        if tok.kind == "ident" and tok.text in ("true", "false"):
            self.take()
            return Literal(tok.pos, tok.text == "true", "boolean")
        if tok.kind in ("ident", "delim", "special"):
            return self.invocation(None)
        raise FhirPathSyntaxError(self.expr, tok.pos, f"unexpected {tok.text or 'end'!r}")


def parse(expr: str) -> Node:
    """Parse a FHIRPath expression into an AST, or raise naming the offset and reason."""
    if not isinstance(expr, str):
        raise ViewDefinitionError(f"FHIRPath must be a string, got {type(expr).__name__}")
    return _Parser(expr).parse()
