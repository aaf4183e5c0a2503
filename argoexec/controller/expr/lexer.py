"""Tokenizer for expr-lang, the language of `{{=...}}` tags and `retryStrategy.expression`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import ExpressionError

Kind = Literal["number", "string", "ident", "op", "bracket", "eof"]

# Words the expr-lang lexer turns into operators rather than identifiers.
WORD_OPERATORS = frozenset(
    {"in", "or", "and", "not", "matches", "contains", "startsWith", "endsWith", "let"}
)
_TWO_CHAR = ("==", "!=", "<=", ">=", "&&", "||", "**", "??", "?.", "..", "::")
_ONE_CHAR = set("+-*/%^<>!?:.,;|#=")
_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
}
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}


@dataclass(frozen=True)
class Token:
    kind: Kind
    value: str
    pos: int

    def is_op(self, *values: str) -> bool:
        return self.kind == "op" and (not values or self.value in values)

    def is_bracket(self, value: str) -> bool:
        return self.kind == "bracket" and self.value == value


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def fail(self, reason: str, pos: int) -> ExpressionError:
        return ExpressionError(reason, expression=self.text, position=pos, phase="parse")

    def run(self) -> list[Token]:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch.isspace():
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unclosed comment", self.pos)
                self.pos = end + 2
            else:
                self.tokens.append(self.next_token(ch))
        self.tokens.append(Token("eof", "", len(text)))
        return self.tokens

    def next_token(self, ch: str) -> Token:
        start = self.pos
        nxt = self.text[start + 1 : start + 2]
        if ch in "'\"`":
            return Token("string", self.raw() if ch == "`" else self.quoted(ch), start)
        if ch.isdigit() or (ch == "." and nxt.isdigit()):
            return self.number()
        if _is_word_char(ch):
            while self.pos < len(self.text) and _is_word_char(self.text[self.pos]):
                self.pos += 1
            word = self.text[start : self.pos]
            return Token("op" if word in WORD_OPERATORS else "ident", word, start)
        if ch in "()[]{}":
            self.pos += 1
            return Token("bracket", ch, start)
        two = self.text[start : start + 2]
        if two in _TWO_CHAR:
            self.pos += 2
            return Token("op", two, start)
        if ch in _ONE_CHAR:
            self.pos += 1
            return Token("op", ch, start)
        raise self.fail(f"unrecognized character: {ch!r}", start)

    def number(self) -> Token:
        text, start = self.text, self.pos
        end = start
        if text.startswith(("0x", "0X", "0o", "0O", "0b", "0B"), start):
            end += 2
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
        else:
            while end < len(text) and (text[end].isdigit() or text[end] == "_"):
                end += 1
            # `1..3` is a range, not the float `1.` followed by `.3`.
            if text.startswith(".", end) and not text.startswith("..", end):
                end += 1
                while end < len(text) and (text[end].isdigit() or text[end] == "_"):
                    end += 1
            if end < len(text) and text[end] in "eE":
                end += 1
                if end < len(text) and text[end] in "+-":
                    end += 1
                while end < len(text) and text[end].isdigit():
                    end += 1
        if end < len(text) and _is_word_char(text[end]):
            raise self.fail(f"bad number syntax: {text[start : end + 1]!r}", start)
        self.pos = end
        return Token("number", text[start:end], start)

    def raw(self) -> str:
        end = self.text.find("`", self.pos + 1)
        if end < 0:
            raise self.fail("literal not terminated", self.pos)
        text = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return text

    def quoted(self, quote: str) -> str:
        text, i = self.text, self.pos + 1
        out: list[str] = []
        while i < len(text) and text[i] != quote:
            if text[i] == "\n":
                break
            if text[i] != "\\":
                out.append(text[i])
                i += 1
                continue
            i = self.escape(i + 1, out)
        if i >= len(text) or text[i] != quote:
            raise self.fail("literal not terminated", self.pos)
        self.pos = i + 1
        return "".join(out)

    def escape(self, i: int, out: list[str]) -> int:
        text = self.text
        code = text[i : i + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            return i + 1
        width = _HEX_WIDTH.get(code, 0)
        digits, base = (text[i + 1 : i + 1 + width], 16) if width else (text[i : i + 3], 8)
        try:
            out.append(chr(int(digits, base)))
        except ValueError:
            raise self.fail("invalid char escape", i - 1) from None
        return i + 1 + width if width else i + 3


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; raises `ExpressionError` naming the expression on bad input."""
    return _Lexer(text).run()
