"""A small JSON reader for the template: ``json.loads`` without ``json``'s imports.

``json.decoder`` imports ``re`` (and through it ``enum``, ``functools``, ``collections``) and
compiles its patterns with the pure-Python regex compiler; the static interpreter has no
``_json`` accelerator either. That was the largest single cost of the emissary's start.

:func:`loads` reads standard JSON only and returns what ``json.loads`` returns for it.
Anything else (Python's extensions ``NaN``/``Infinity``, malformed text) raises
:class:`UnsupportedError`; the caller then hands the text to ``json.loads`` itself, for its
exact result or error (tests/emissary/test_minijson.py compares the two).
"""

from __future__ import annotations

# Not imported at run time: ``typing`` adds milliseconds to every container's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class UnsupportedError(ValueError):
    """Not plain standard JSON: left to ``json.loads``."""


_WHITESPACE = " \t\n\r"
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = {"true": True, "false": False, "null": None}


def loads(text: str) -> Any:
    value, end = _value(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise UnsupportedError("extra data")
    return value


def _skip(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WHITESPACE:
        i += 1
    return i


def _value(s: str, i: int) -> tuple[Any, int]:
    if i >= len(s):
        raise UnsupportedError("expecting a value")
    char = s[i]
    if char == '"':
        return _string(s, i + 1)
    if char == "{":
        return _object(s, i + 1)
    if char == "[":
        return _array(s, i + 1)
    if char == "-" or char in _DIGITS:
        return _number(s, i)
    for word, literal in _LITERALS.items():
        if s.startswith(word, i):
            return literal, i + len(word)
    raise UnsupportedError("expecting a value")


def _object(s: str, i: int) -> tuple[dict[str, Any], int]:
    pairs: dict[str, Any] = {}
    i = _skip(s, i)
    if s.startswith("}", i):
        return pairs, i + 1
    while True:
        if not s.startswith('"', i):
            raise UnsupportedError("expecting a property name")
        key, i = _string(s, i + 1)
        i = _skip(s, i)
        if not s.startswith(":", i):
            raise UnsupportedError("expecting ':'")
        pairs[key], i = _value(s, _skip(s, i + 1))  # a repeated key: the last one wins
        i = _skip(s, i)
        if s.startswith("}", i):
            return pairs, i + 1
        if not s.startswith(",", i):
            raise UnsupportedError("expecting ',' or '}'")
        i = _skip(s, i + 1)


def _array(s: str, i: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    i = _skip(s, i)
    if s.startswith("]", i):
        return items, i + 1
    while True:
        item, i = _value(s, i)
        items.append(item)
        i = _skip(s, i)
        if s.startswith("]", i):
            return items, i + 1
        if not s.startswith(",", i):
            raise UnsupportedError("expecting ',' or ']'")
        i = _skip(s, i + 1)


def _digits(s: str, i: int) -> int:
    while i < len(s) and s[i] in _DIGITS:
        i += 1
    return i


def _number(s: str, start: int) -> tuple[int | float, int]:
    """``-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?``: an int, or a float with a
    fraction or an exponent (as ``json`` reads them)."""
    i = start + 1 if s[start] == "-" else start
    if s.startswith("0", i):
        i += 1
    elif i < len(s) and s[i] in _DIGITS:
        i = _digits(s, i)
    else:
        raise UnsupportedError("expecting a value")  # "-Infinity" and the like
    whole = i
    if s.startswith(".", i):
        i = _digits(s, i + 1)
        if i == whole + 1:
            raise UnsupportedError("a fraction without digits")
    if i < len(s) and s[i] in "eE":
        j = i + 1
        if j < len(s) and s[j] in "+-":
            j += 1
        end = _digits(s, j)
        if end == j:
            raise UnsupportedError("an exponent without digits")
        i = end
    if i == whole:
        return int(s[start:i]), i
    return float(s[start:i]), i


def _string(s: str, i: int) -> tuple[str, int]:
    """The string whose opening quote is just before ``i``; control characters (refused by
    ``json``'s strict mode) and malformed escapes are UnsupportedError."""
    chunks = []
    while True:
        quote = s.find('"', i)
        if quote < 0:
            raise UnsupportedError("unterminated string")
        escape = s.find("\\", i, quote)
        end = quote if escape < 0 else escape
        chunk = s[i:end]
        if not (chunk.isascii() and chunk.isprintable()) and chunk and min(chunk) < " ":
            raise UnsupportedError("a control character in a string")
        chunks.append(chunk)
        if escape < 0:
            return "".join(chunks), quote + 1
        char, i = _escape(s, escape + 1)
        chunks.append(char)


def _escape(s: str, i: int) -> tuple[str, int]:
    """The character escaped at ``s[i]`` (after the backslash) and the index after it."""
    char = s[i : i + 1]
    if char in _ESCAPES:
        return _ESCAPES[char], i + 1
    if char != "u":
        raise UnsupportedError("an invalid escape")
    code = _hex4(s, i + 1)
    i += 5
    if 0xD800 <= code <= 0xDBFF and s.startswith("\\u", i):
        low = _hex4(s, i + 2)
        if 0xDC00 <= low <= 0xDFFF:  # a surrogate pair: one character
            return chr(0x10000 + (((code - 0xD800) << 10) | (low - 0xDC00))), i + 6
    return chr(code), i


def _hex4(s: str, i: int) -> int:
    digits = s[i : i + 4]
    if len(digits) != 4 or digits.strip(_HEX):
        raise UnsupportedError("an invalid \\u escape")
    return int(digits, 16)
