"""Tokenizer and syntax check of the govaluate dialect Argo uses for `when` (after `{{...}}`
substitution). Mirrors govaluate v3: bare words are VARIABLE tokens (Argo later turns them into
strings, so `heads == heads` is true), numbers are float64, quoted text that looks like a date
becomes a TIME (its Unix seconds), and each token kind may only follow certain kinds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .values import render_value

PREFIX_SYMBOLS = frozenset({"-", "!", "~"})
MODIFIER_SYMBOLS = frozenset({"+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<"})
LOGICAL_SYMBOLS = frozenset({"&&", "||"})
COMPARATOR_SYMBOLS = frozenset({"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"})
TERNARY_SYMBOLS = frozenset({"?", ":", "??"})

_VALUES = (
    "PREFIX",
    "NUMERIC",
    "BOOLEAN",
    "VARIABLE",
    "PATTERN",
    "FUNCTION",
    "ACCESSOR",
    "STRING",
    "TIME",
    "CLAUSE",
)
_AFTER_VALUE = ("MODIFIER", "COMPARATOR", "LOGICALOP", "CLAUSE_CLOSE", "TERNARY", "SEPARATOR")
# Which kinds may follow each kind, and whether an expression may end on it (govaluate's
# lexer states); violations are reported as "Cannot transition token types from ...".
NEXT: dict[str, tuple[str, ...]] = {
    "START": _VALUES,
    "CLAUSE": (*_VALUES, "CLAUSE_CLOSE"),
    "CLAUSE_CLOSE": (
        "COMPARATOR",
        "MODIFIER",
        "NUMERIC",
        "BOOLEAN",
        "VARIABLE",
        "STRING",
        "PATTERN",
        "TIME",
        "CLAUSE",
        "CLAUSE_CLOSE",
        "LOGICALOP",
        "TERNARY",
        "SEPARATOR",
    ),
    "NUMERIC": _AFTER_VALUE,
    "BOOLEAN": _AFTER_VALUE,
    "STRING": _AFTER_VALUE,
    "VARIABLE": _AFTER_VALUE,
    "TIME": ("MODIFIER", "COMPARATOR", "LOGICALOP", "CLAUSE_CLOSE", "SEPARATOR"),
    "PATTERN": ("MODIFIER", "COMPARATOR", "LOGICALOP", "CLAUSE_CLOSE", "SEPARATOR"),
    "MODIFIER": (
        "PREFIX",
        "NUMERIC",
        "VARIABLE",
        "FUNCTION",
        "ACCESSOR",
        "STRING",
        "BOOLEAN",
        "CLAUSE",
        "CLAUSE_CLOSE",
    ),
    "COMPARATOR": (*_VALUES, "CLAUSE_CLOSE"),
    "LOGICALOP": tuple(k for k in (*_VALUES, "CLAUSE_CLOSE") if k != "PATTERN"),
    "PREFIX": (
        "NUMERIC",
        "BOOLEAN",
        "VARIABLE",
        "FUNCTION",
        "ACCESSOR",
        "CLAUSE",
        "CLAUSE_CLOSE",
    ),
    "TERNARY": (
        "PREFIX",
        "NUMERIC",
        "BOOLEAN",
        "STRING",
        "TIME",
        "VARIABLE",
        "FUNCTION",
        "ACCESSOR",
        "CLAUSE",
        "SEPARATOR",
    ),
    "ACCESSOR": ("CLAUSE", *_AFTER_VALUE),
    "SEPARATOR": tuple(k for k in _VALUES if k != "PATTERN"),
}
CAN_END = frozenset(
    {"CLAUSE_CLOSE", "NUMERIC", "BOOLEAN", "STRING", "TIME", "PATTERN", "VARIABLE", "ACCESSOR"}
)

# Go layouts govaluate tries on every quoted string (ANSIC, UnixDate, RubyDate, Kitchen); the
# RFC 3339 / ISO 8601 family is matched by `_ISO` below.
_TIME_FORMATS = (
    "%a %b %d %H:%M:%S %Y",
    "%a %b %d %H:%M:%S %Z %Y",
    "%a %b %d %H:%M:%S %z %Y",
    "%I:%M%p",
)
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class GToken:
    kind: str
    value: Any
    pos: int


class WhenSyntaxError(Exception):
    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


def _parse_time(text: str) -> float | None:
    """Unix seconds of a quoted string govaluate would read as a date, else None."""
    moment: datetime | None = None
    if _ISO.fullmatch(text):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    for fmt in _TIME_FORMATS:
        if moment is not None:
            break
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _is_symbol_char(ch: str) -> bool:
    return not (ch.isalnum() or ch in "()[]'\"" or ch.isspace())


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.state = "START"

    def run(self) -> list[GToken]:
        tokens: list[GToken] = []
        while self.i < len(self.text):
            if self.text[self.i].isspace():
                self.i += 1
                continue
            token = self.read()
            tokens.append(token)
            self.state = token.kind
        return tokens

    def read_while(self, test: Any) -> str:
        start = self.i
        while self.i < len(self.text) and test(self.text[self.i]):
            self.i += 1
        return self.text[start : self.i]

    def read(self) -> GToken:
        start, ch = self.i, self.text[self.i]
        if ch.isdigit() or ch == ".":
            raw = self.read_while(lambda c: c.isdigit() or c == ".")
            try:
                number = float(raw)
            except ValueError:
                number = math.inf
            if math.isinf(number):  # Go's ParseFloat refuses what overflows float64
                raise WhenSyntaxError(f"Unable to parse numeric value '{raw}' to float64", start)
            return GToken("NUMERIC", number, start)
        if ch in ",()":
            self.i += 1
            return GToken({",": "SEPARATOR", "(": "CLAUSE", ")": "CLAUSE_CLOSE"}[ch], ch, start)
        if ch.isalpha():
            return self.word(start)
        if ch in "['\"":
            return self.literal(start, ch)
        return self.symbol(start)

    def literal(self, start: int, opener: str) -> GToken:
        if opener == "[":  # `[any text]` names a variable
            return GToken("VARIABLE", self.quoted("]", "Unclosed parameter bracket"), start)
        # A string ends at either quote character, whichever opened it (as govaluate).
        text = self.quoted("'\"", "Unclosed string literal")
        seconds = _parse_time(text)
        if seconds is not None:
            return GToken("TIME", seconds, start)
        return GToken("STRING", text, start)

    def quoted(self, closers: str, unclosed: str) -> str:
        self.i += 1
        out: list[str] = []
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == "\\" and self.i + 1 < len(self.text):
                out.append(self.text[self.i + 1])
                self.i += 2
                continue
            self.i += 1
            if ch in closers:
                return "".join(out)
            out.append(ch)
        raise WhenSyntaxError(unclosed, self.i)

    def word(self, start: int) -> GToken:
        word = self.read_while(lambda c: c.isalnum() or c in "_.")
        if word in ("true", "false"):
            return GToken("BOOLEAN", word == "true", start)
        if word in ("in", "IN"):
            return GToken("COMPARATOR", "in", start)
        if "." in word:
            if word.endswith("."):
                raise WhenSyntaxError(f"Hanging accessor on token '{word}'", start)
            for part in word.split(".")[1:]:
                if part[:1] != part[:1].upper():
                    raise WhenSyntaxError(
                        f"Unable to access unexported field '{part}' in token '{word}'", start
                    )
            return GToken("ACCESSOR", word.split("."), start)
        return GToken("VARIABLE", word, start)

    def symbol(self, start: int) -> GToken:
        symbol = self.read_while(_is_symbol_char)
        if "PREFIX" in NEXT[self.state] and symbol in PREFIX_SYMBOLS:
            return GToken("PREFIX", symbol, start)
        for kind, symbols in (
            ("MODIFIER", MODIFIER_SYMBOLS),
            ("LOGICALOP", LOGICAL_SYMBOLS),
            ("COMPARATOR", COMPARATOR_SYMBOLS),
            ("TERNARY", TERNARY_SYMBOLS),
        ):
            if symbol in symbols:
                return GToken(kind, symbol, start)
        raise WhenSyntaxError(f"Invalid token: '{symbol}'", start)


def _transition_error(state: str, tokens: list[GToken], token: GToken) -> WhenSyntaxError:
    last = tokens[-1] if tokens else None
    if last is not None and last.kind == "VARIABLE" and token.kind == "CLAUSE":
        return WhenSyntaxError(f"Undefined function {last.value}", last.pos)
    last_value = "<nil>" if last is None else _show(last.value)
    return WhenSyntaxError(
        f"Cannot transition token types from {state} [{last_value}] to "
        f"{token.kind} [{_show(token.value)}]",
        token.pos,
    )


def _show(value: Any) -> str:
    return render_value(value)


def check_syntax(tokens: list[GToken]) -> None:
    """Re-run the transition rules (Argo re-checks after turning VARIABLEs into STRINGs)."""
    state = "START"
    for index, token in enumerate(tokens):
        if token.kind not in NEXT[state]:
            raise _transition_error(state, tokens[:index], token)
        state = token.kind
    if state not in CAN_END:
        raise WhenSyntaxError("Unexpected end of expression", tokens[-1].pos if tokens else 0)


def _check_balance(tokens: list[GToken]) -> None:
    depth = 0
    for token in tokens:
        depth += {"CLAUSE": 1, "CLAUSE_CLOSE": -1}.get(token.kind, 0)
    if depth != 0:
        raise WhenSyntaxError("Unbalanced parenthesis", tokens[-1].pos)


def tokenize(text: str) -> list[GToken]:
    """Read the tokens of `text`, then check parenthesis balance and token order (in that order,
    as govaluate, so the first error reported matches upstream's)."""
    tokens = _Lexer(text).run()
    _check_balance(tokens)
    check_syntax(tokens)
    return tokens
