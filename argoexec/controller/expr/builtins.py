"""expr-lang's plain builtins (subject first: `split(s, ",")`, `join(list, ",")`)."""

from __future__ import annotations

import base64
import binascii
import math
import re
import statistics
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import EvalError
from .gonum import INT64_MAX, INT64_MIN, float_to_int64, wrap_int64
from .limits import spend
from .values import (
    equal,
    from_go_json,
    go_type,
    is_int,
    is_list,
    is_number,
    render_value,
    same_kind,
    to_go_json,
)

# Go's strconv rejects what Python's int()/float() tolerate: surrounding space, `1_000`.
_DECIMAL = re.compile(r"[+-]?[0-9]+")
_NOT_GO_FLOAT = re.compile(r"[\s_]")


def _fail(name: str, value: Any) -> EvalError:
    return EvalError(f"invalid argument for {name} (type {go_type(value)})")


def to_int(value: Any) -> int:
    """expr-lang `int()` (also Argo's `asInt`): floats truncate as Go converts them (see
    `gonum`), strings parse as decimal int64 (`strconv.Atoi`: out of range is an error)."""
    if is_int(value):
        return int(value)
    if isinstance(value, float):
        return float_to_int64(value)
    if isinstance(value, str):
        if _DECIMAL.fullmatch(value) and INT64_MIN <= int(value) <= INT64_MAX:
            return int(value)
        raise EvalError(f"invalid operation: int({value})")
    raise EvalError(f"invalid operation: int({go_type(value)})")


def to_float(value: Any) -> float:
    """expr-lang `float()` (also Argo's `asFloat`)."""
    if is_number(value):
        return float(value)
    if isinstance(value, str) and not _NOT_GO_FLOAT.search(value):
        try:
            return float(value)
        except ValueError:
            raise EvalError(f"invalid operation: float({value})") from None
    raise EvalError(f"invalid operation: float({go_type(value)})")


def length(value: Any) -> int:
    if isinstance(value, str | Mapping) or is_list(value):
        return len(value)
    raise _fail("len", value)


def _number(name: str, value: Any) -> Any:
    if not is_number(value):
        raise _fail(name, value)
    return value


def _extreme(name: str, better: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    def extreme(*args: Any) -> Any:
        values = list(args[0]) if len(args) == 1 and is_list(args[0]) else list(args)
        if not values:
            raise EvalError(f"not enough arguments to call {name}")
        best = _number(name, values[0])
        for value in values[1:]:
            # Go's runtime.Less/More: an int against a float compares as float64; the winner
            # keeps its own type.
            if better(*same_kind(_number(name, value), best)):
                best = value
        return best

    return extreme


def _abs(value: Any) -> Any:
    number = _number("abs", value)
    return wrap_int64(abs(number)) if is_int(number) else abs(number)  # abs(MinInt64) wraps


def _numbers(name: str, args: tuple[Any, ...]) -> list[float]:
    values = list(args[0]) if len(args) == 1 and is_list(args[0]) else list(args)
    if not values:
        raise EvalError(f"not enough arguments to call {name}")
    return [float(_number(name, v)) for v in values]  # Go sums them as float64


def _round(value: Any) -> float:
    # Go's math.Round rounds half away from zero (Python's round() is banker's rounding).
    number = float(_number("round", value))
    return math.copysign(math.floor(abs(number) + 0.5), number)


def _repeat(text: Any, count: Any) -> str:
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise EvalError(f"invalid argument for repeat (expected positive integer, got {count})")
    spend(len(str(text)) * count)
    return str(text) * count


def _trim(value: str, chars: str | None = None) -> str:
    return value.strip() if chars is None else value.strip(chars)


def _split(value: str, sep: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    if sep == "":
        return list(value)
    return value.split(sep, limit - 1 if limit > 0 else -1)


def _join(values: Any, sep: str = "") -> str:
    if not is_list(values) or not all(isinstance(v, str) for v in values):
        raise _fail("join", values)
    return sep.join(values)


def _first(values: Any) -> Any:
    return values[0] if is_list(values) and values else None


def _last(values: Any) -> Any:
    return values[-1] if is_list(values) and values else None


def _keys(mapping: Any) -> list[Any]:
    if not isinstance(mapping, Mapping):
        raise _fail("keys", mapping)
    return list(mapping)


def _values(mapping: Any) -> list[Any]:
    if not isinstance(mapping, Mapping):
        raise _fail("values", mapping)
    return list(mapping.values())


def _uniq(values: Any) -> list[Any]:
    unique: list[Any] = []
    for value in values:
        if not any(equal(value, seen) for seen in unique):
            unique.append(value)
    return unique


def _flatten(values: Any) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(_flatten(value) if is_list(value) else [value])
    return flat


def _sort(values: Any, order: str = "asc") -> list[Any]:
    try:
        return sorted(values, reverse=order == "desc")
    except TypeError:
        raise EvalError("sort(): values are not comparable") from None


def _get(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        return container.get(key)
    if is_list(container) and is_int(key) and -len(container) <= key < len(container):
        return container[key]
    return None


def _type(value: Any) -> str:
    names = {
        "<nil>": "nil",
        "float64": "float",
        "[]interface {}": "array",
        "map[string]interface {}": "map",
    }
    name = go_type(value)
    return names.get(name, name)


def from_json(text: Any) -> Any:
    try:
        return from_go_json(text)
    except (TypeError, ValueError) as exc:
        raise EvalError(f"fromJSON(): {exc}") from None


def _from_base64(text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise EvalError(f"fromBase64(): {exc}") from None


def _index_of(text: str, sub: str) -> int:
    return text.find(sub)


BUILTINS: dict[str, Callable[..., Any]] = {
    "len": length,
    "int": to_int,
    "float": to_float,
    "string": render_value,
    "abs": _abs,
    "ceil": lambda v: float(math.ceil(_number("ceil", v))),
    "floor": lambda v: float(math.floor(_number("floor", v))),
    "round": _round,
    "max": _extreme("max", lambda a, b: a > b),
    "min": _extreme("min", lambda a, b: a < b),
    "mean": lambda *a: float(statistics.fmean(_numbers("mean", a))),
    "median": lambda *a: float(statistics.median(_numbers("median", a))),
    "trim": _trim,
    "trimPrefix": lambda s, p=" ": s.removeprefix(p),
    "trimSuffix": lambda s, p=" ": s.removesuffix(p),
    "upper": str.upper,
    "lower": str.lower,
    "split": _split,
    "replace": lambda s, old, new: s.replace(old, new),
    "repeat": _repeat,
    "join": _join,
    "indexOf": _index_of,
    "lastIndexOf": lambda s, sub: s.rfind(sub),
    "hasPrefix": lambda s, p: s.startswith(p),
    "hasSuffix": lambda s, p: s.endswith(p),
    "first": _first,
    "last": _last,
    "take": lambda values, n: list(values[:n]),
    "keys": _keys,
    "values": _values,
    "reverse": lambda values: list(reversed(values)),
    "uniq": _uniq,
    "concat": lambda *lists: [v for values in lists for v in values],
    "flatten": _flatten,
    "sort": _sort,
    "get": _get,
    "type": _type,
    "toJSON": lambda v: to_go_json(v, indent="  "),
    "fromJSON": from_json,
    "toBase64": lambda s: base64.b64encode(s.encode()).decode(),
    "fromBase64": _from_base64,
    "now": lambda: datetime.now(UTC),
    "toPairs": lambda m: [[k, v] for k, v in _keys_values(m)],
    "fromPairs": lambda pairs: {k: v for k, v in pairs},
}


def _keys_values(mapping: Any) -> list[tuple[Any, Any]]:
    if not isinstance(mapping, Mapping):
        raise _fail("toPairs", mapping)
    return list(mapping.items())
