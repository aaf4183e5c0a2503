"""Value helpers shared by both dialects: Go type names, equality, Go `%v` and JSON rendering.

Argo evaluates expressions in Go, so a result reaches the template through `fmt.Sprintf("%v")`
(expression tags, `string()`) or `encoding/json` (`toJson`). Both differ from Python's `str` and
`json.dumps` (`2.0` renders `2`, lists render `[a b]`, `<` is escaped in JSON): mirrored here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


_SCALAR_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "bool"),  # before int: a Python bool is an int
    (int, "int"),
    (float, "float64"),
    (str, "string"),
    (datetime, "time.Time"),  # a CronWorkflow's times (`gotime`)
    (timedelta, "time.Duration"),
)


def go_type(value: Any) -> str:
    """The Go type name expr-lang would print for `value` in an error message."""
    if value is None:
        return "<nil>"
    for python_type, name in _SCALAR_TYPES:
        if isinstance(value, python_type):
            return name
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if is_list(value):
        return "[]interface {}"
    return "func" if callable(value) else type(value).__name__


def same_kind(left: Any, right: Any) -> tuple[Any, Any]:
    """Two numbers as Go compares them: an int meeting a float is converted to float64 first."""
    if isinstance(left, float) != isinstance(right, float):
        return float(left), float(right)
    return left, right


def equal(left: Any, right: Any) -> bool:
    """expr-lang `==`: numbers compare by value across int/float (as float64); otherwise same
    type and value."""
    if is_number(left) and is_number(right):
        left, right = same_kind(left, right)
        return bool(left == right)
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if is_list(left) and is_list(right):
        return len(left) == len(right) and all(map(equal, left, right))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of a finite positive float and its decimal exponent."""
    _sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    return digits, exponent + len(digit_tuple) - 1


def _fixed(digits: str, exp10: int) -> str:
    if exp10 < 0:
        return "0." + "0" * (-exp10 - 1) + digits
    whole = digits[: exp10 + 1].ljust(exp10 + 1, "0")
    frac = digits[exp10 + 1 :]
    return f"{whole}.{frac}" if frac else whole


def _scientific(digits: str, exp10: int, min_exp_digits: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp10 < 0 else "+"
    return f"{mantissa}e{sign}{str(abs(exp10)).zfill(min_exp_digits)}"


def go_float(value: float) -> str:
    """Go's `%v` for a float64 (`strconv` 'g', shortest): `2`, `2.5`, `1e+06`, `1.5e-05`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, exp10 = _digits(abs(value))
    sign = "-" if value < 0 else ""
    # strconv 'g' with shortest precision switches to %e at a fixed decimal exponent of 6.
    if exp10 < -4 or exp10 >= 6:
        return sign + _scientific(digits, exp10, 2)
    return sign + _fixed(digits, exp10)


def go_json_float(value: float) -> str:
    """`encoding/json` for a float64: plain decimal unless < 1e-6 or >= 1e21."""
    if not math.isfinite(value):
        raise ValueError(f"json: unsupported value: {go_float(value)}")
    if value == 0:
        return "0" if math.copysign(1, value) > 0 else "-0"
    digits, exp10 = _digits(abs(value))
    sign = "-" if value < 0 else ""
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        return sign + _scientific(digits, exp10, 1)
    return sign + _fixed(digits, exp10)


def render_value(value: Any) -> str:
    """How Argo writes an expression result into a template: Go's `fmt.Sprintf("%v", v)`.

    Strings are raw, booleans `true`/`false`, integral floats without `.0`, lists `[a b]` and maps
    `map[k:v]` (keys sorted) — use `toJson(...)` in the expression to get JSON. A nil result
    renders `<nil>` here, but Argo rejects it ("failed to evaluate expression"): callers
    substituting a `{{=...}}` tag should treat a `None` result as an error.
    """
    return _render(value)


def _render(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, Mapping):
        items = " ".join(f"{_render(k)}:{_render(value[k])}" for k in sorted(value, key=str))
        return f"map[{items}]"
    if is_list(value):
        return "[" + " ".join(_render(v) for v in value) + "]"
    return str(value)


_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return "".join(_JSON_ESCAPES.get(ch, ch) for ch in encoded)


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def from_go_json(text: str) -> Any:
    """Go's `json.Unmarshal` into `any`: every JSON number is a float64 (so `fromJSON("2") % 2`
    is a type error, as in Argo) and `NaN`/`Infinity` are not JSON."""
    return json.loads(text, parse_int=float, parse_constant=_no_constant)


def to_go_json(value: Any, indent: str = "") -> str:
    """Go's `json.Marshal` (compact, sorted keys, HTML-safe); `MarshalIndent` with `indent`."""
    return _json(value, indent, "")


def _json(value: Any, indent: str, prefix: str) -> str:
    encoders: dict[type, Callable[[Any], str]] = {
        bool: lambda v: "true" if v else "false",
        int: str,
        float: go_json_float,
        str: _json_string,
    }
    if value is None:
        return "null"
    encoder = encoders.get(type(value))
    if encoder is not None:
        return encoder(value)
    inner = prefix + indent
    sep = ",\n" + inner if indent else ","
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        colon = ": " if indent else ":"
        parts = [
            f"{_json_string(str(k))}{colon}{_json(value[k], indent, inner)}"
            for k in sorted(value, key=str)
        ]
    elif is_list(value):
        if not value:
            return "[]"
        parts = [_json(v, indent, inner) for v in value]
    else:
        raise ValueError(f"json: unsupported type: {go_type(value)}")
    opening, closing = ("{", "}") if isinstance(value, Mapping) else ("[", "]")
    if indent:
        return f"{opening}\n{inner}{sep.join(parts)}\n{prefix}{closing}"
    return opening + sep.join(parts) + closing
