"""Pratt parser for expr-lang, following the upstream grammar and operator table.

Precedences (higher binds tighter): `|` 0, `or`/`||` 10, `and`/`&&` 15, comparisons and
`in`/`matches`/`contains`/`startsWith`/`endsWith` 20, `..` 25, `+ -` 30, `* / %` 60, `** ^` 100
(right-associative), `??` 500; prefix `not`/`!` 50 and `-`/`+` 90; `?:` lowest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from . import ast
from .errors import ExpressionError
from .gonum import INT64_MAX
from .lexer import Token, tokenize

BINARY: dict[str, int] = {
    "|": 0, "or": 10, "||": 10, "and": 15, "&&": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, ">=": 20, "<=": 20,
    "in": 20, "matches": 20, "contains": 20, "startsWith": 20, "endsWith": 20,
    "..": 25, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 100, "^": 100, "??": 500,
}  # fmt: skip
RIGHT_ASSOCIATIVE = frozenset({"**", "^"})
UNARY: dict[str, int] = {"not": 50, "!": 50, "-": 90, "+": 90}
NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
COMPARISON = 20

# Builtins whose arguments after the first are closures (`{ # > 1 }` or a bare expression).
PREDICATES: dict[str, tuple[int, int]] = {
    name: (2, 2) for name in (
        "all", "none", "any", "one", "filter", "map", "find", "findIndex", "findLast",
        "findLastIndex", "groupBy",
    )
} | {"count": (1, 2), "sum": (1, 2), "sortBy": (2, 3), "reduce": (2, 3)}  # fmt: skip


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0  # predicate nesting: `#` and `.field` are only valid inside one

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def fail(self, reason: str, token: Token | None = None) -> ExpressionError:
        token = token or self.current
        return ExpressionError(reason, expression=self.text, position=token.pos, phase="parse")

    def unexpected(self) -> ExpressionError:
        if self.current.kind == "eof":
            return self.fail("unexpected end of expression")
        return self.fail(f"unexpected token {self.current.value!r}")

    def advance(self) -> Token:
        token = self.current
        if token.kind != "eof":
            self.index += 1
        return token

    def expect_op(self, value: str) -> None:
        if not self.current.is_op(value):
            raise self.unexpected()
        self.advance()

    def expect_bracket(self, value: str) -> None:
        if not self.current.is_bracket(value):
            raise self.unexpected()
        self.advance()

    def parse(self) -> ast.Node:
        node = self.expression(0)
        if self.current.kind != "eof":
            raise self.unexpected()
        return node

    def expression(self, precedence: int) -> ast.Node:
        if precedence == 0 and self.current.is_op("let"):
            return self.let()
        left = self.primary()
        while self.current.kind == "op":
            op_token = self.current
            op = op_token.value
            negate = op == "not"
            if negate:
                follower = self.tokens[self.index + 1]
                if follower.kind != "op" or follower.value not in NEGATABLE:
                    raise self.fail(f"unexpected token {follower.value!r}", follower)
                if BINARY[follower.value] < precedence:
                    break
                self.advance()
                op_token, op = follower, follower.value
            if op not in BINARY or BINARY[op] < precedence:
                break
            self.advance()
            left = self.binary(left, op_token, negate)
            if negate:
                left = ast.Unary(op_token.pos, "not", left)
        if precedence == 0:
            left = self.conditional(left)
        return left

    def binary(self, left: ast.Node, op_token: Token, negate: bool) -> ast.Node:
        op = op_token.value
        if op == "|":
            name = self.advance()
            if name.kind != "ident":
                raise self.fail("expected a function name after '|'", name)
            return self.call(name, [left])
        if BINARY[op] == COMPARISON and not negate:
            return self.comparison(left, op_token)
        level = BINARY[op] if op in RIGHT_ASSOCIATIVE else BINARY[op] + 1
        return ast.Binary(op_token.pos, op, left, self.expression(level))

    def comparison(self, left: ast.Node, op_token: Token) -> ast.Node:
        # `1 < x < 3` means `1 < x && x < 3`, as in expr-lang.
        root: ast.Node | None = None
        while True:
            right = self.expression(COMPARISON + 1)
            node = ast.Binary(op_token.pos, op_token.value, left, right)
            root = node if root is None else ast.Binary(op_token.pos, "&&", root, node)
            if not (self.current.kind == "op" and BINARY.get(self.current.value) == COMPARISON):
                return root
            left, op_token = right, self.advance()

    def conditional(self, node: ast.Node) -> ast.Node:
        while self.current.is_op("?"):
            token = self.advance()
            if self.current.is_op(":"):
                self.advance()
                node = ast.Conditional(token.pos, node, node, self.expression(0))
                continue
            then = self.expression(0)
            self.expect_op(":")
            node = ast.Conditional(token.pos, node, then, self.expression(0))
        return node

    def let(self) -> ast.Node:
        token = self.advance()
        name = self.advance()
        if name.kind != "ident":
            raise self.fail("expected a variable name after 'let'", name)
        self.expect_op("=")
        value = self.expression(0)
        self.expect_op(";")
        return ast.Let(token.pos, name.value, value, self.expression(0))

    def primary(self) -> ast.Node:
        token = self.current
        if token.kind == "op" and token.value in UNARY:
            self.advance()
            operand = self.expression(UNARY[token.value])
            return self.postfix(ast.Unary(token.pos, token.value, operand))
        if token.is_bracket("("):
            self.advance()
            inner = self.expression(0)
            self.expect_bracket(")")
            return self.postfix(inner)
        if token.is_op("#", "."):
            if self.depth == 0:
                raise self.fail("cannot use pointer accessor outside predicate")
            self.advance()
            name = ""
            follower = self.current
            if token.value == "#" and follower.kind == "ident" and follower.pos == token.pos + 1:
                name = self.advance().value
            if token.value == ".":
                self.index -= 1  # `.field` inside a predicate is `#.field`
            return self.postfix(ast.Pointer(token.pos, name))
        return self.postfix(self.secondary())

    def secondary(self) -> ast.Node:
        if self.current.kind in ("eof", "op") or (
            self.current.kind == "bracket" and self.current.value in ")]}"
        ):
            raise self.unexpected()
        token = self.advance()
        if token.kind == "ident":
            constants = {"true": True, "false": False, "nil": None}
            if token.value in constants:
                return ast.Literal(token.pos, constants[token.value])
            if self.current.is_bracket("("):
                return self.call(token, [])
            return ast.Ident(token.pos, token.value)
        if token.kind in ("number", "string"):
            value = self.number(token) if token.kind == "number" else token.value
            return ast.Literal(token.pos, value)
        if token.is_bracket("["):
            return self.array(token)
        if token.is_bracket("{"):
            return self.mapping(token)
        raise self.fail(f"unexpected token {token.value!r}", token)

    def number(self, token: Token) -> int | float:
        raw = token.value.replace("_", "")
        kind = _literal_kind(raw.lower())
        try:
            value = float(raw) if kind == "float" else int(raw, 10 if kind == "integer" else 0)
        except ValueError:
            raise self.fail(f"invalid number literal: {token.value}", token) from None
        # Go's strconv refuses what does not fit an int64 or a float64 (Python would give a big
        # int or inf). A negative literal is a negated positive one: -9223372036854775808 fails.
        if value > INT64_MAX if isinstance(value, int) else math.isinf(value):
            func = "ParseFloat" if kind == "float" else "ParseInt"
            message = f'strconv.{func}: parsing "{raw}": value out of range'
            raise self.fail(f"invalid {kind} literal: {message}", token)
        return value

    def call(self, name: Token, args: list[ast.Node]) -> ast.Node:
        if name.value in PREDICATES:
            return self.predicate_call(name, args)
        args.extend(self.arguments(lambda _index: self.expression(0)))
        return ast.Call(name.pos, ast.Ident(name.pos, name.value), tuple(args))

    def arguments(self, parse_one: Callable[[int], ast.Node]) -> list[ast.Node]:
        """`( a, b, )` — a trailing comma is allowed, as upstream."""
        self.expect_bracket("(")
        parsed: list[ast.Node] = []
        while not self.current.is_bracket(")"):
            if parsed:
                self.expect_op(",")
                if self.current.is_bracket(")"):
                    break
            parsed.append(parse_one(len(parsed)))
        self.expect_bracket(")")
        return parsed

    def predicate_call(self, name: Token, args: list[ast.Node]) -> ast.Node:
        low, high = PREDICATES[name.value]
        piped = len(args)

        def parse_one(index: int) -> ast.Node:
            # Argument 0 is the collection, 1 the closure, 2 an ordinary value.
            return self.predicate() if index + piped == 1 else self.expression(0)

        args.extend(self.arguments(parse_one))
        if not low <= len(args) <= high:
            raise self.fail(f"{name.value}() expects {low} to {high} arguments", name)
        return ast.Builtin(name.pos, name.value, tuple(args))

    def predicate(self) -> ast.Node:
        start = self.current
        braced = start.is_bracket("{")
        if braced:
            self.advance()
        self.depth += 1
        body = self.expression(0)
        self.depth -= 1
        if braced:
            self.expect_bracket("}")
        return ast.Predicate(start.pos, body)

    def array(self, token: Token) -> ast.Node:
        items: list[ast.Node] = []
        while not self.current.is_bracket("]"):
            if items:
                self.expect_op(",")
                if self.current.is_bracket("]"):
                    break
            items.append(self.expression(0))
        self.expect_bracket("]")
        return ast.ArrayLit(token.pos, tuple(items))

    def mapping(self, token: Token) -> ast.Node:
        pairs: list[tuple[ast.Node, ast.Node]] = []
        while not self.current.is_bracket("}"):
            if pairs:
                self.expect_op(",")
                if self.current.is_bracket("}"):
                    break
            key_token = self.current
            if key_token.kind in ("number", "string", "ident"):
                key: ast.Node = ast.Literal(key_token.pos, self.advance().value)
            elif key_token.is_bracket("("):
                key = self.expression(0)
            else:
                raise self.fail(
                    "a map key must be a quoted string, a number, an identifier, "
                    "or an expression enclosed in parentheses"
                )
            self.expect_op(":")
            pairs.append((key, self.expression(0)))
        self.expect_bracket("}")
        return ast.MapLit(token.pos, tuple(pairs))

    def postfix(self, node: ast.Node) -> ast.Node:
        chained = False
        while self.current.is_op(".", "?.") or self.current.is_bracket("["):
            token = self.advance()
            optional = token.value == "?."
            chained = chained or optional
            if token.value in (".", "?.") and not self.current.is_bracket("["):
                prop = self.advance()
                if prop.kind not in ("ident", "op") or not prop.value.isidentifier():
                    raise self.fail("expected name", prop)
                member = ast.Member(prop.pos, node, ast.Literal(prop.pos, prop.value), optional)
                node = self.method_call(member) if self.current.is_bracket("(") else member
                continue
            if token.value == "?.":
                token = self.advance()
            node = self.subscript(token, node, optional)
        return ast.Chain(node.pos, node) if chained else node

    def method_call(self, member: ast.Member) -> ast.Node:
        args = self.arguments(lambda _index: self.expression(0))
        return ast.Call(member.pos, member, tuple(args))

    def subscript(self, token: Token, node: ast.Node, optional: bool) -> ast.Node:
        start: ast.Node | None = None
        if not self.current.is_op(":"):
            start = self.expression(0)
            if not self.current.is_op(":"):
                self.expect_bracket("]")
                return ast.Member(token.pos, node, start, optional)
        self.advance()
        end = None if self.current.is_bracket("]") else self.expression(0)
        self.expect_bracket("]")
        return ast.Slice(token.pos, node, start, end)


@lru_cache(maxsize=512)
def parse(text: str) -> ast.Node:
    """Parse an expr-lang expression; raises `ExpressionError` naming it and the position."""
    return _Parser(text).parse()


def _literal_kind(lowered: str) -> str:
    """How expr-lang reads a number literal (its error messages name the kind)."""
    prefixes = {"0x": "hex", "0o": "octal", "0b": "binary"}
    if lowered[:2] in prefixes:
        return prefixes[lowered[:2]]
    return "float" if any(ch in lowered for ch in ".e") else "integer"
