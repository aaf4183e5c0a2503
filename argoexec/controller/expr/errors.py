"""The one error type of both expression dialects."""

from __future__ import annotations

from typing import Literal

Dialect = Literal["expr", "when"]
Phase = Literal["parse", "evaluate"]

_PREFIX: dict[tuple[Dialect, Phase], str] = {
    ("expr", "parse"): "invalid expression",
    ("expr", "evaluate"): "failed to evaluate expression",
    # Argo's own wording for `when` failures, so messages read as users know them.
    ("when", "parse"): "Invalid 'when' expression",
    ("when", "evaluate"): "Failed to evaluate 'when' expression",
}


_SHOWN = 200  # characters of an expression a message quotes


class ExpressionError(Exception):
    """An expression that does not parse or cannot be evaluated.

    `str()` always names the expression text and, when known, the 1-based line:column of the
    offending token, e.g. ``invalid expression 'asInt(x) +' (1:11): unexpected end of expression``.
    `unresolved` is true when the failure is only a reference to a variable the environment does
    not have: Argo leaves such tags verbatim in its early substitution passes.
    """

    def __init__(
        self,
        reason: str,
        *,
        expression: str,
        position: int | None = None,
        phase: Phase = "evaluate",
        dialect: Dialect = "expr",
        unresolved: bool = False,
        hint: str = "",
    ) -> None:
        self.reason = reason
        self.expression = expression
        self.position = position
        self.phase: Phase = phase
        self.dialect: Dialect = dialect
        self.unresolved = unresolved
        self.hint = hint
        super().__init__(self._render())

    @property
    def location(self) -> str:
        """`line:column` (1-based) of `position` within the expression, or ``""``."""
        if self.position is None:
            return ""
        before = self.expression[: self.position]
        line = before.count("\n") + 1
        column = self.position - (before.rfind("\n") + 1) + 1
        return f"{line}:{column}"

    def _render(self) -> str:
        where = f" ({self.location})" if self.position is not None else ""
        shown = self.expression
        if len(shown) > _SHOWN:  # a message names the expression, it does not repeat a huge one
            shown = f"{shown[: _SHOWN // 2]}…{shown[-_SHOWN // 2 :]} ({len(shown)} characters)"
        text = f"{_PREFIX[self.dialect, self.phase]} '{shown}'{where}: {self.reason}"
        return f"{text} {self.hint}" if self.hint else text


class EvalError(Exception):
    """Internal: a runtime failure not yet tied to the expression text (see `ExpressionError`)."""

    def __init__(self, reason: str, *, position: int | None = None, unresolved: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.position = position
        self.unresolved = unresolved
