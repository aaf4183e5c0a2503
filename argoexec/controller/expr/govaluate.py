"""Argo's `when` dialect: govaluate, evaluated with no parameters after `{{...}}` substitution.

Argo turns every bare word into a string, so `{{steps.flip.outputs.result}} == heads` becomes
`heads == heads` and is true. Numbers are float64 (`5 == 5.0`; `1/0` is +Inf, `5 % 0` NaN, bitwise
operators work on int64/uint64 conversions, see `gonum`), `+` concatenates when either
side is a string, `=~`/`!~` match regular expressions, `x in (a, b)` tests membership, and
`&&`, `||`, `?:` and `??` short-circuit. Precedence, loosest first: `,`; `? : ??`; `||`; `&&`;
comparators; `& | ^`; `<< >>`; `+ -`; `* / %`; `**`; prefix `- ! ~`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ExpressionError
from .gonum import float_to_int64, float_to_uint64, go_divide, go_mod, go_pow, go_shift
from .govaluate_lexer import GToken, WhenSyntaxError, check_syntax, tokenize
from .operators import compile_regex
from .values import is_list, render_value

_LEVELS: tuple[tuple[str, frozenset[str]], ...] = (
    ("SEPARATOR", frozenset({","})),
    ("TERNARY", frozenset({"?", ":", "??"})),
    ("LOGICALOP", frozenset({"||"})),
    ("LOGICALOP", frozenset({"&&"})),
    ("COMPARATOR", frozenset({"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"})),
    ("MODIFIER", frozenset({"&", "|", "^"})),
    ("MODIFIER", frozenset({"<<", ">>"})),
    ("MODIFIER", frozenset({"+", "-"})),
    ("MODIFIER", frozenset({"*", "/", "%"})),
    ("MODIFIER", frozenset({"**"})),
)
_HINT = '(hint: try wrapping the affected expression in quotes ("))'


class WhenEvalError(Exception):
    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


@dataclass(frozen=True)
class _Node:
    kind: str  # "value", "accessor", "prefix", "binary", "group"
    symbol: str
    pos: int
    value: Any = None
    left: _Node | None = None
    right: _Node | None = None


class _Parser:
    def __init__(self, tokens: list[GToken]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> GToken | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def level(self, depth: int) -> _Node:
        if depth == len(_LEVELS):
            return self.value()
        kind, symbols = _LEVELS[depth]
        node = self.level(depth + 1)
        while (token := self.peek()) and token.kind == kind and token.value in symbols:
            self.i += 1
            right = self.level(depth + 1)
            node = _Node("binary", token.value, token.pos, left=node, right=right)
        return node

    def value(self) -> _Node:
        token = self.peek()
        if token is None:
            raise WhenSyntaxError("Unexpected end of expression", 0)
        self.i += 1
        if token.kind == "PREFIX":
            return _Node("prefix", token.value, token.pos, right=self.value())
        if token.kind == "CLAUSE":
            inner = self.level(0)
            self.i += 1  # the balanced CLAUSE_CLOSE
            return _Node("group", "()", token.pos, left=inner)
        if token.kind == "ACCESSOR":
            return _Node("accessor", ".", token.pos, value=token.value)
        if token.kind in ("STRING", "NUMERIC", "BOOLEAN", "TIME", "VARIABLE"):
            return _Node("value", "", token.pos, value=token.value)
        raise WhenSyntaxError(f"Unable to plan token kind: '{token.kind}'", token.pos)


def _type_error(value: Any, symbol: str, what: str) -> str:
    return f"Value '{render_value(value)}' cannot be used with the {what} '{symbol}'"


def _num(value: Any) -> bool:
    return isinstance(value, float)


def _arith(symbol: str, fn: Callable[[float, float], float]) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        for operand in (left, right):
            if not _num(operand):
                raise ValueError(_type_error(operand, symbol, "modifier") + ", it is not a number")
        return fn(left, right)

    return apply


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, str) or isinstance(right, str):
        return render_value(left) + render_value(right)
    return _arith("+", lambda a, b: a + b)(left, right)


def _compare(symbol: str, fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        if (_num(left) and _num(right)) or (isinstance(left, str) and isinstance(right, str)):
            return fn(left, right)
        raise ValueError(_type_error(left, symbol, "comparator") + ", it is not a number")

    return apply


def _regex(negate: bool) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        symbol = "!~" if negate else "=~"
        for operand in (left, right):
            if not isinstance(operand, str):
                raise ValueError(
                    _type_error(operand, symbol, "comparator") + ", it is not a string"
                )
        return (compile_regex(right).search(left) is not None) != negate

    return apply


def _in(left: Any, right: Any) -> bool:
    # govaluate wants a parenthesised list on the right; a single value is accepted as one.
    options = right if is_list(right) else [right]
    return any(type(left) is type(o) and left == o for o in options)


def _bits(fn: Callable[[int, int], int]) -> Callable[[Any, Any], Any]:
    # govaluate converts both sides to int64 and the result back to float64.
    return _arith("bitwise", lambda a, b: float(fn(float_to_int64(a), float_to_int64(b))))


def _shift(*, left: bool) -> Callable[[Any, Any], Any]:
    # Shifts are done on uint64: a count of 64 or more leaves 0.
    def shift(a: float, b: float) -> float:
        return float(go_shift(float_to_uint64(a), float_to_uint64(b), left=left))

    return _arith("bitwise", shift)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add,
    "-": _arith("-", lambda a, b: a - b),
    "*": _arith("*", lambda a, b: a * b),
    "/": _arith("/", go_divide),
    "%": _arith("%", go_mod),
    "**": _arith("**", go_pow),
    "&": _bits(lambda a, b: a & b),
    "|": _bits(lambda a, b: a | b),
    "^": _bits(lambda a, b: a ^ b),
    "<<": _shift(left=True),
    ">>": _shift(left=False),
    "==": lambda a, b: type(a) is type(b) and a == b,
    "!=": lambda a, b: not (type(a) is type(b) and a == b),
    ">": _compare(">", lambda a, b: a > b),
    ">=": _compare(">=", lambda a, b: a >= b),
    "<": _compare("<", lambda a, b: a < b),
    "<=": _compare("<=", lambda a, b: a <= b),
    "=~": _regex(negate=False),
    "!~": _regex(negate=True),
    "in": _in,
    ",": lambda a, b: [*a, b] if isinstance(a, list) else [a, b],
}


def _require_bool(value: Any, symbol: str, what: str) -> None:
    if not isinstance(value, bool):
        raise ValueError(_type_error(value, symbol, what) + ", it is not a bool")


def _evaluate(node: _Node) -> Any:
    if node.kind == "value":
        return node.value
    if node.kind == "accessor":
        # Argo evaluates `when` without parameters, so a dotted bare word cannot resolve.
        raise WhenEvalError(f"No parameter '{node.value[0]}' found.", node.pos)
    if node.kind == "group":
        assert node.left is not None
        return _evaluate(node.left)
    assert node.right is not None
    if node.kind == "prefix":
        return _prefix(node.symbol, _evaluate(node.right), node.pos)
    return _binary(node)


def _binary(node: _Node) -> Any:
    assert node.left is not None and node.right is not None
    left = _evaluate(node.left)
    shortcut = _short_circuit(node.symbol, left, node.pos)
    if shortcut is not _CONTINUE:
        return shortcut
    right = _evaluate(node.right)
    try:
        if node.symbol in ("&&", "||"):
            _require_bool(left, node.symbol, "logical operator")
            _require_bool(right, node.symbol, "logical operator")
            return right
        if node.symbol in ("?", ":", "??"):
            return right
        return _BINARY[node.symbol](left, right)
    except ValueError as exc:
        raise WhenEvalError(str(exc), node.pos) from None


_CONTINUE = object()


def _short_circuit(symbol: str, left: Any, pos: int) -> Any:
    if symbol in ("&&", "||") and left is (symbol == "||"):
        return left
    if symbol == "?":
        if not isinstance(left, bool):
            reason = _type_error(left, "?", "ternary operator") + ", it is not a bool"
            raise WhenEvalError(reason, pos)
        return _CONTINUE if left else None
    if symbol in (":", "??") and left is not None:
        return left
    return _CONTINUE


def _prefix(symbol: str, value: Any, pos: int) -> Any:
    if symbol == "!" and isinstance(value, bool):
        return not value
    if symbol == "-" and _num(value):
        return -value
    if symbol == "~" and _num(value):
        return float(~float_to_int64(value))
    raise WhenEvalError(_type_error(value, symbol, "prefix"), pos)


def evaluate_when(text: str) -> bool:
    """Evaluate an already-substituted `when` condition as Argo does; empty means true.

    Raises `ExpressionError` (dialect "when") naming the condition on a syntax error, a type
    error (`hello-world == x` subtracts two strings), or a non-boolean result.
    """
    if text == "":
        return True
    try:
        tokens = tokenize(text)
        # Argo's trick: bare words are strings. Transitions are re-checked afterwards.
        tokens = [GToken("STRING", t.value, t.pos) if t.kind == "VARIABLE" else t for t in tokens]
        check_syntax(tokens)
        tree = _Parser(tokens).level(0)
        result = _evaluate(tree)
    except WhenSyntaxError as exc:
        hint = _HINT if "Invalid token" in exc.reason else ""
        raise ExpressionError(
            exc.reason, expression=text, position=exc.pos, phase="parse", dialect="when", hint=hint
        ) from None
    except WhenEvalError as exc:
        raise ExpressionError(
            exc.reason, expression=text, position=exc.pos, dialect="when"
        ) from None
    if not isinstance(result, bool):
        raise ExpressionError(
            f"expected a boolean result, got {render_value(result)}",
            expression=text,
            dialect="when",
        )
    return result
