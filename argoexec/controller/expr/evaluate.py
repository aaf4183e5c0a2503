"""Tree-walking evaluator for expr-lang over a nested-dict environment (Argo's `{{=...}}`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import ast, gotime
from .builtins import BUILTINS
from .errors import EvalError, ExpressionError
from .functions import ARGO_FUNCTIONS
from .operators import BINARY, UNARY
from .parser import parse
from .predicates import PREDICATES, Frame
from .values import go_type, is_list, render_value

# What a helper's bad arguments raise in Python; reported as the call's error, never raw.
_CALL_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    OverflowError,
    ZeroDivisionError,
    AttributeError,
)


@dataclass(frozen=True)
class Missing:
    """A map key the environment lacks. Behaves as nil (`??`, `== nil`, `?.`) but any failure
    involving it names the variable, so a typo reads `inputs.parameters.nmae is not defined`."""

    path: str


class _NilChainError(Exception):
    """Unwinds an optional chain (`a?.b.c`) to its `Chain` boundary when `a` is nil."""


def _plain(value: Any) -> Any:
    return None if isinstance(value, Missing) else value


def _missing_note(values: tuple[Any, ...]) -> str:
    paths = [v.path for v in values if isinstance(v, Missing)]
    return f" ({', '.join(paths)} is not defined)" if paths else ""


def _callee_name(node: ast.Node) -> str:
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, ast.Member) and isinstance(node.prop, ast.Literal):
        return f"{_callee_name(node.obj)}.{node.prop.value}"
    return "function"


class Evaluator:
    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self.locals: dict[str, Any] = {}
        self.frames: list[Frame] = []
        self.handlers: dict[type, Callable[[Any], Any]] = {
            ast.Literal: lambda node: node.value,
            ast.Ident: self.ident,
            ast.Pointer: self.pointer,
            ast.Unary: self.unary,
            ast.Binary: self.binary,
            ast.Member: self.member,
            ast.Slice: self.slice,
            ast.Call: self.call,
            ast.Builtin: self.builtin,
            ast.Conditional: self.conditional,
            ast.ArrayLit: lambda node: [self.value(item) for item in node.items],
            ast.MapLit: self.mapping,
            ast.Chain: self.chain,
            ast.Let: self.let,
        }

    def eval(self, node: ast.Node) -> Any:
        try:
            return self.handlers[type(node)](node)
        except EvalError as failure:
            if failure.position is None:
                failure.position = node.pos
            raise

    def value(self, node: ast.Node) -> Any:
        """Evaluate to a plain value (a missing key becomes nil)."""
        return _plain(self.eval(node))

    def ident(self, node: ast.Ident) -> Any:
        if node.name in self.locals:
            return self.locals[node.name]
        if node.name in self.env:
            return self.env[node.name]
        if node.name in ARGO_FUNCTIONS:
            return ARGO_FUNCTIONS[node.name]
        raise EvalError(f"unknown name {node.name}", unresolved=True)

    def pointer(self, node: ast.Pointer) -> Any:
        frame = self.frames[-1]
        if node.name == "":
            return frame.element
        if node.name == "index":
            return frame.index
        if node.name == "acc":
            return frame.acc
        raise EvalError(f"unknown pointer #{node.name}")

    def unary(self, node: ast.Unary) -> Any:
        operand = self.eval(node.operand)
        try:
            return UNARY[node.op](_plain(operand))
        except EvalError as failure:
            failure.reason += _missing_note((operand,))
            failure.unresolved = isinstance(operand, Missing)
            raise

    def binary(self, node: ast.Binary) -> Any:
        left = self.eval(node.left)
        if node.op in ("&&", "and", "||", "or"):
            return self.logical(node, left)
        if node.op == "??":
            return self.eval(node.right) if _plain(left) is None else left
        right = self.eval(node.right)
        try:
            return BINARY[node.op](_plain(left), _plain(right))
        except EvalError as failure:
            failure.reason += _missing_note((left, right))
            failure.unresolved = any(isinstance(v, Missing) for v in (left, right))
            raise

    def logical(self, node: ast.Binary, left: Any) -> bool:
        self.require_bool(node.op, left)
        if left is (node.op in ("||", "or")):
            return bool(left)
        right = self.eval(node.right)
        self.require_bool(node.op, right)
        return bool(right)

    @staticmethod
    def require_bool(op: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise EvalError(
                f"invalid operation: {op} on {go_type(_plain(value))} (non-bool value)"
                + _missing_note((value,)),
                unresolved=isinstance(value, Missing),
            )

    def member(self, node: ast.Member) -> Any:
        obj = self.eval(node.obj)
        key = self.value(node.prop)
        if _plain(obj) is None:
            if node.optional:
                raise _NilChainError
            raise EvalError(
                f"cannot fetch {key} from <nil>" + _missing_note((obj,)),
                unresolved=isinstance(obj, Missing),
            )
        if isinstance(obj, Mapping):
            if key in obj:
                return obj[key]
            return Missing(self.path_of(node, key))
        if is_list(obj) or isinstance(obj, str):
            return self.index(obj, key)
        bound = gotime.method(obj, key)  # a time's or a duration's method (Go values')
        if bound is not None:
            return bound
        raise EvalError(f"cannot fetch {key} from {go_type(obj)}")

    def path_of(self, node: ast.Member, key: Any) -> str:
        base = node.obj
        prefix = ""
        if isinstance(base, ast.Ident):
            prefix = base.name
        elif isinstance(base, ast.Member) and isinstance(base.prop, ast.Literal):
            inner = self.path_of(base, base.prop.value)
            prefix = inner
        if isinstance(key, str) and key.isidentifier():
            return f"{prefix}.{key}" if prefix else key
        return f"{prefix}[{key!r}]"

    @staticmethod
    def index(obj: Any, key: Any) -> Any:
        if isinstance(key, bool) or not isinstance(key, int | float):
            raise EvalError(f"invalid operation: int({go_type(key)})")
        position = int(key)
        if position < 0:
            position += len(obj)
        if not 0 <= position < len(obj):
            raise EvalError(f"index out of range: {int(key)} (array length is {len(obj)})")
        return obj[position]

    def slice(self, node: ast.Slice) -> Any:
        obj = self.value(node.obj)
        if not (is_list(obj) or isinstance(obj, str)):
            raise EvalError(f"cannot slice {go_type(obj)}")
        length = len(obj)
        start = 0 if node.start is None else self.value(node.start)
        end = length if node.end is None else self.value(node.end)
        for bound in (start, end):
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise EvalError(f"invalid operation: int({go_type(bound)})")
        low, high = (int(b) + length if int(b) < 0 else int(b) for b in (start, end))
        high = min(max(high, 0), length)
        low = min(max(low, 0), high)
        return obj[low:high]

    def call(self, node: ast.Call) -> Any:
        function = self.callee(node.callee)
        raw = [self.eval(arg) for arg in node.args]
        try:
            return function(*map(_plain, raw))
        except EvalError as failure:
            failure.reason += _missing_note(tuple(raw))
            failure.unresolved = failure.unresolved or any(isinstance(v, Missing) for v in raw)
            raise
        except _CALL_ERRORS as exc:
            name = _callee_name(node.callee)
            detail = str(exc).replace("<lambda>()", "it")
            raise EvalError(f"{name}(): {detail}{_missing_note(tuple(raw))}") from None

    def callee(self, node: ast.Node) -> Callable[..., Any]:
        if isinstance(node, ast.Ident) and node.name not in self.locals:
            for table in (ARGO_FUNCTIONS, BUILTINS):
                if node.name in table and callable(table[node.name]):
                    return table[node.name]
            if node.name not in self.env:
                raise EvalError(f"unknown func {node.name}", unresolved=True)
        function = self.eval(node)
        if not callable(function):
            raise EvalError(
                f"{go_type(_plain(function))} is not callable" + _missing_note((function,)),
                unresolved=isinstance(function, Missing),
            )
        return function  # type: ignore[no-any-return]

    def builtin(self, node: ast.Builtin) -> Any:
        collection = self.value(node.args[0])
        extra = [self.value(arg) for arg in node.args[2:]]
        body = node.args[1].body if len(node.args) > 1 else None  # type: ignore[attr-defined]

        def run(frame: Frame) -> Any:
            if body is None:
                return frame.element
            self.frames.append(frame)
            try:
                return self.value(body)
            finally:
                self.frames.pop()

        return PREDICATES[node.name](collection, run, *extra)

    def conditional(self, node: ast.Conditional) -> Any:
        cond = self.eval(node.cond)
        if not isinstance(cond, bool):
            raise EvalError(
                f"non-bool expression (type {go_type(_plain(cond))}) used as "
                "condition" + _missing_note((cond,))
            )
        return self.eval(node.then if cond else node.otherwise)

    def mapping(self, node: ast.MapLit) -> dict[Any, Any]:
        return {self.value(key): self.value(value) for key, value in node.pairs}

    def chain(self, node: ast.Chain) -> Any:
        try:
            return self.eval(node.node)
        except _NilChainError:
            return None

    def let(self, node: ast.Let) -> Any:
        saved = dict(self.locals)
        self.locals[node.name] = self.value(node.value)
        try:
            return self.eval(node.body)
        finally:
            self.locals = saved


def evaluate_expr(text: str, env: Mapping[str, Any]) -> Any:
    """Evaluate an expr-lang expression (the inside of `{{= ... }}`) against a nested `env`.

    Returns the plain value (nil is `None`). Raises `ExpressionError` naming the expression and
    position when it does not parse, fails, or its result is a variable the environment lacks.
    """
    node = parse(text.strip())
    try:
        result = Evaluator(env).eval(node)
    except EvalError as failure:
        raise ExpressionError(
            failure.reason,
            expression=text.strip(),
            position=failure.position,
            unresolved=failure.unresolved,
        ) from None
    if isinstance(result, Missing):
        raise ExpressionError(
            f"{result.path} is not defined",
            expression=text.strip(),
            position=node.pos,
            unresolved=True,
        )
    return result


def evaluate_condition(text: str, env: Mapping[str, Any]) -> bool:
    """Evaluate an expr-lang condition that must be boolean, e.g. `retryStrategy.expression`
    (`asInt(lastRetry.exitCode) > 1`) or an HTTP template's `successCondition`."""
    result = evaluate_expr(text, env)
    if not isinstance(result, bool):
        raise ExpressionError(
            f"expected a boolean result, got {go_type(result)} {render_value(result)}",
            expression=text.strip(),
        )
    return result
