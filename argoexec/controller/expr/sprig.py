"""The commonly used part of Sprig, exposed to expressions as `sprig.<name>` (Argo passes
`sprig.GenericFuncMap()` minus `env`/`expandenv`). Sprig puts the subject LAST
(`sprig.replace(old, new, s)`) and prefers defaults to errors (`int("x")` is 0).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import uuid
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from . import sprig_time
from .errors import EvalError
from .gonum import INT64_MAX, INT64_MIN, float_to_int64, go_divide, wrap_int64
from .limits import spend
from .operators import compile_regex, modulo
from .values import (
    equal,
    from_go_json,
    go_type,
    is_list,
    is_number,
    render_value,
    to_go_json,
)


def to_string(value: Any) -> str:
    """Sprig `strval`: strings as-is, bytes decoded, everything else Go `%v`."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else render_value(value)


def to_int64(value: Any) -> int:
    """`cast.ToInt64` as Sprig uses it: base prefixes honoured, failures (also a number outside
    int64) become 0; a float converts as Go's `int64(x)` does (see `gonum`)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return float_to_int64(value)
    if is_number(value):
        return int(value)
    if isinstance(value, str):
        text = re.sub(r"\.0*$", "", value) if "." in value else value
        try:
            number = int(text, 0)
        except ValueError:
            number = _octal_or_zero(text)
        return number if INT64_MIN <= number <= INT64_MAX else 0
    return 0


def _octal_or_zero(text: str) -> int:
    # Go's ParseInt with base 0 reads a leading 0 as octal ("010" == 8); Python refuses it.
    if re.fullmatch(r"[+-]?0[0-7]+", text):
        return int(text, 8)
    return 0


def to_float64(value: Any) -> float:
    if isinstance(value, bool) or is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if not re.search(r"[\s_]", value) else 0.0
        except ValueError:
            return 0.0
    return 0.0


def empty(value: Any) -> bool:
    """Sprig `empty`: nil, false, 0, "" and empty collections are empty."""
    if value is None:
        return True
    if isinstance(value, bool | int | float | str | Mapping) or is_list(value):
        return not value
    return False


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if is_list(value):
        return [to_string(v) for v in value if v is not None]
    return [to_string(value)]


def _list(value: Any, name: str) -> list[Any]:
    if not is_list(value):
        raise EvalError(f"Cannot {name} on type {go_type(value)}")
    return list(value)


def _int_math(pick: Callable[[list[int]], int]) -> Callable[..., int]:
    # Sprig's integer math is int64: it wraps around on overflow (wrapping once at the end is
    # the same as wrapping after every step).
    return lambda *args: wrap_int64(pick([to_int64(a) for a in args]))


def _go_div(left: Any, right: Any) -> int:
    a, b = to_int64(left), to_int64(right)
    if b == 0:
        raise EvalError("integer divide by zero")
    quotient = abs(a) // abs(b)
    return wrap_int64(quotient if (a < 0) == (b < 0) else -quotient)  # MinInt64 / -1 wraps


def _round(value: Any, places: Any, round_on: float = 0.5) -> float:
    scale = math.pow(10, to_int64(places))
    digit = to_float64(value) * scale
    fraction = digit - math.trunc(digit)
    return (math.ceil(digit) if fraction >= round_on else math.floor(digit)) / scale


def _default(default: Any, *given: Any) -> Any:
    return default if not given or empty(given[0]) else given[0]


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not empty(v)), None)


def _quote(*values: Any, quote: str = '"') -> str:
    def one(text: str) -> str:
        if quote == "'":
            return f"'{text}'"
        return json.dumps(text, ensure_ascii=False)

    return " ".join(one(to_string(v)) for v in values if v is not None)


def _substr(start: Any, end: Any, text: str) -> str:
    begin, stop = to_int64(start), to_int64(end)
    if begin < 0:
        return text[:stop]
    if stop < 0 or stop > len(text):
        return text[begin:]
    return text[begin:stop]


def _trunc(count: Any, text: str) -> str:
    n = to_int64(count)
    return text[n:] if n < 0 and -n < len(text) else text[:n] if n >= 0 else text


def _indent(spaces: Any, text: str) -> str:
    pad = " " * to_int64(spaces)
    return pad + text.replace("\n", "\n" + pad)


def _title(text: str) -> str:
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), text)


def _split_dict(sep: str, text: str) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(text.split(sep))}


def _b64dec(text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode(errors="replace")
    except binascii.Error as exc:
        return str(exc)  # Sprig returns the error text instead of failing


def _from_json(text: Any) -> Any:
    try:
        return from_go_json(text)
    except (TypeError, ValueError):
        return None


def _go_replacement(template: str) -> str:
    """Go's `$1` / `${name}` replacement syntax as a Python `re` template."""
    escaped = template.replace("\\", "\\\\")
    escaped = re.sub(r"\$\{(\w+)\}", r"\\g<\1>", escaped)
    return re.sub(r"\$(\w+)", r"\\g<\1>", escaped)


def _regex_find_all(pattern: str, text: str, limit: Any) -> list[str]:
    found = [m.group() for m in compile_regex(pattern).finditer(text)]
    n = to_int64(limit)
    return found if n < 0 else found[:n]


def _regex_split(pattern: str, text: str, limit: Any) -> list[str]:
    n = to_int64(limit)
    if n == 0:
        return []
    return compile_regex(pattern).split(text, maxsplit=max(n - 1, 0))


def _regex_match(pattern: str, text: str) -> bool:
    try:
        return compile_regex(pattern).search(text) is not None
    except EvalError:
        return False  # Sprig's regexMatch swallows compile errors


def _dict(*pairs: Any) -> dict[str, Any]:
    items = list(pairs) + ([""] if len(pairs) % 2 else [])
    return {to_string(items[i]): items[i + 1] for i in range(0, len(items), 2)}


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    return mapping.get(key, "")


def _has(needle: Any, haystack: Any) -> bool:
    return is_list(haystack) and any(equal(item, needle) for item in haystack)


def _uniq(values: Any) -> list[Any]:
    unique: list[Any] = []
    for value in _list(values, "uniq"):
        if not _has(value, unique):
            unique.append(value)
    return unique


def _until_step(start: Any, stop: Any, step: Any) -> list[int]:
    begin, end, stride = to_int64(start), to_int64(stop), to_int64(step)
    if not stride:
        return []
    spend(len(range(begin, end, stride)))
    return list(range(begin, end, stride))


def _repeat(count: Any, text: Any) -> str:
    times = max(to_int64(count), 0)
    spend(len(str(text)) * times)
    return str(text) * times


def _list_slice(values: Any, *bounds: Any) -> list[Any]:
    items = _list(values, "slice")
    start = to_int64(bounds[0]) if bounds else 0
    end = to_int64(bounds[1]) if len(bounds) > 1 else len(items)
    return items[start:end]


def _checksum(algorithm: str) -> Callable[[str], str]:
    return lambda text: hashlib.new(algorithm, text.encode()).hexdigest()


def _plural(one: str, many: str, count: Any) -> str:
    return one if to_int64(count) == 1 else many


SPRIG: dict[str, Callable[..., Any]] = {
    # strings
    "trim": str.strip,
    "trimAll": lambda cut, s: s.strip(cut),
    "trimPrefix": lambda prefix, s: s.removeprefix(prefix),
    "trimSuffix": lambda suffix, s: s.removesuffix(suffix),
    "upper": str.upper,
    "lower": str.lower,
    "title": _title,
    "untitle": lambda s: re.sub(r"\b(\w)", lambda m: m.group(1).lower(), s),
    "repeat": _repeat,
    "substr": _substr,
    "trunc": _trunc,
    "nospace": lambda s: re.sub(r"\s", "", s),
    "contains": lambda sub, s: sub in s,
    "hasPrefix": lambda prefix, s: s.startswith(prefix),
    "hasSuffix": lambda suffix, s: s.endswith(suffix),
    "quote": _quote,
    "squote": lambda *v: _quote(*v, quote="'"),
    "cat": lambda *v: " ".join(to_string(x) for x in v if x is not None),
    "indent": _indent,
    "nindent": lambda spaces, s: "\n" + _indent(spaces, s),
    "replace": lambda old, new, s: s.replace(old, new),
    "plural": _plural,
    # conversions
    "atoi": to_int64,
    "int": to_int64,
    "int64": to_int64,
    "float64": to_float64,
    "toString": to_string,
    "toStrings": _str_list,
    # lists
    "list": lambda *v: list(v),
    "first": lambda v: _list(v, "first")[0] if _list(v, "first") else None,
    "last": lambda v: _list(v, "last")[-1] if _list(v, "last") else None,
    "rest": lambda v: _list(v, "rest")[1:],
    "initial": lambda v: _list(v, "initial")[:-1],
    "append": lambda v, x: [*_list(v, "append"), x],
    "push": lambda v, x: [*_list(v, "push"), x],
    "prepend": lambda v, x: [x, *_list(v, "prepend")],
    "concat": lambda *lists: [x for v in lists for x in _list(v, "concat")],
    "reverse": lambda v: _list(v, "reverse")[::-1],
    "uniq": _uniq,
    "without": lambda v, *drop: [x for x in _list(v, "without") if not _has(x, drop)],
    "has": _has,
    "compact": lambda v: [x for x in _list(v, "compact") if not empty(x)],
    "slice": _list_slice,
    "sortAlpha": lambda v: sorted(_str_list(v)),
    "splitList": lambda sep, s: s.split(sep),
    "split": _split_dict,
    "join": lambda sep, v: sep.join(_str_list(v)),
    "until": lambda n: _until_step(0, n, 1),
    "untilStep": _until_step,
    # dicts
    "dict": _dict,
    "get": _get,
    "set": lambda d, k, v: {**d, k: v},
    "unset": lambda d, k: {key: v for key, v in d.items() if key != k},
    "hasKey": lambda d, k: k in d,
    "keys": lambda *dicts: [k for d in dicts for k in d],
    "values": lambda d: list(d.values()),
    "pick": lambda d, *ks: {k: d[k] for k in ks if k in d},
    "omit": lambda d, *ks: {k: v for k, v in d.items() if k not in ks},
    "pluck": lambda k, *dicts: [d[k] for d in dicts if k in d],
    # math
    "add": _int_math(sum),
    "add1": lambda v: wrap_int64(to_int64(v) + 1),
    "sub": lambda a, b: wrap_int64(to_int64(a) - to_int64(b)),
    "mul": _int_math(math.prod),
    "div": _go_div,
    "mod": lambda a, b: modulo(to_int64(a), to_int64(b)),
    "max": _int_math(max),
    "min": _int_math(min),
    "addf": lambda *v: math.fsum(to_float64(x) for x in v),
    "subf": lambda a, *v: to_float64(a) - math.fsum(to_float64(x) for x in v),
    "mulf": lambda *v: math.prod(to_float64(x) for x in v),
    "divf": lambda a, b: go_divide(to_float64(a), to_float64(b)),
    "maxf": lambda *v: max(to_float64(x) for x in v),
    "minf": lambda *v: min(to_float64(x) for x in v),
    "floor": lambda v: float(math.floor(to_float64(v))),
    "ceil": lambda v: float(math.ceil(to_float64(v))),
    "round": _round,
    # defaults, flow, JSON
    "default": _default,
    "empty": empty,
    "coalesce": _coalesce,
    "ternary": lambda true_value, false_value, cond: true_value if cond is True else false_value,
    "all": lambda *v: all(not empty(x) for x in v),
    "any": lambda *v: any(not empty(x) for x in v),
    "fromJson": _from_json,
    "toJson": to_go_json,
    "toPrettyJson": lambda v: to_go_json(v, indent="  "),
    "toRawJson": to_go_json,
    "deepEqual": equal,
    "typeOf": go_type,
    "kindOf": go_type,
    # encodings, hashes, regexes, misc
    "b64enc": lambda s: base64.b64encode(to_string(s).encode()).decode(),
    "b64dec": _b64dec,
    "b32enc": lambda s: base64.b32encode(to_string(s).encode()).decode(),
    "sha1sum": _checksum("sha1"),
    "sha256sum": _checksum("sha256"),
    "sha512sum": _checksum("sha512"),
    "adler32sum": lambda s: str(zlib.adler32(s.encode())),
    "regexMatch": _regex_match,
    "regexFind": lambda p, s: m.group() if (m := compile_regex(p).search(s)) else "",
    "regexFindAll": _regex_find_all,
    "regexReplaceAll": lambda p, s, r: compile_regex(p).sub(_go_replacement(r), s),
    "regexReplaceAllLiteral": lambda p, s, r: compile_regex(p).sub(lambda _m: r, s),
    "regexSplit": _regex_split,
    "regexQuoteMeta": re.escape,
    "uuidv4": lambda: str(uuid.uuid4()),
    **sprig_time.FUNCTIONS,
}
