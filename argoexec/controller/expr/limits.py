"""What an expression may cost: one nested too deeply for the parser and evaluator (both
recursive), asking for more memory than there is, or for a number too large for the machine
(a range or a repetition of 2**63 items) fails as an `ExpressionError` like any other, naming
the expression, instead of escaping as Python's own error."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from .errors import Dialect, EvalError, ExpressionError

P = ParamSpec("P")
R = TypeVar("R")


def bounded(dialect: Dialect) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap an evaluator whose first argument is the expression text."""

    def decorate(evaluate: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(evaluate)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            token = _spent.set([0])  # each evaluation has its own budget, as each vm.Run
            try:
                return evaluate(*args, **kwargs)
            except RecursionError:
                reason = "the expression is nested too deeply to be evaluated"
            except MemoryError:
                reason = "the expression needs more memory than there is"
            except OverflowError:
                reason = "a number in the expression is too large"
            finally:
                _spent.reset(token)
            text = str(args[0]) if args else ""
            raise ExpressionError(reason, expression=text.strip(), dialect=dialect) from None

        return wrapper

    return decorate


# expr-lang's vm.MemoryBudget: what one evaluation may allocate in ranges and repetitions (items
# or characters); past it expr fails with "memory budget exceeded". Sprig's functions have no
# budget in Go, where a huge `until` or `repeat` would take the controller's memory: the same
# bound keeps them from it here.
MEMORY_BUDGET = 1_000_000
# What the evaluation under way has spent: the budget is for the whole evaluation, as expr's
# vm.memory, so a range inside a closure (`filter(1..3000, {len(1..3000) > 0})`) counts at
# each call and a costly condition ends early instead of holding a controller thread for
# minutes. Outside an evaluation (no list), each allocation is judged alone.
_spent: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "expr_spent", default=None
)


def spend(size: int) -> None:
    """Refuse an allocation of ``size`` items or characters beyond the budget."""
    spent = _spent.get()
    total = size if spent is None else spent[0] + max(size, 0)
    if total >= MEMORY_BUDGET:
        raise EvalError("memory budget exceeded")
    if spent is not None:
        spent[0] = total
