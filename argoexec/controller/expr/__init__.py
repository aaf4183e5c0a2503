"""Argo's two expression languages, as the thin controller evaluates them.

* `evaluate_expr` — expr-lang, for `{{= ... }}` tags and fields such as
  `retryStrategy.expression`, with Argo's helpers (`asInt`, `asFloat`, `string`, `toJson`,
  `jsonpath`, `sprig.*`) and expr-lang's builtins (`filter`, `map`, `len`, ...).
* `evaluate_condition` — expr-lang that must yield a boolean (`retryStrategy.expression`).
* `evaluate_when` — govaluate, for `when` conditions after simple `{{...}}` substitution.
* `render_value` — how an expression result is written into a template (Go `%v`).

Every failure is an `ExpressionError` whose message names the expression and the position.
"""

from __future__ import annotations

from .errors import ExpressionError
from .evaluate import evaluate_condition, evaluate_expr
from .functions import expand_env
from .govaluate import evaluate_when
from .values import render_value

__all__ = [
    "ExpressionError",
    "evaluate_condition",
    "evaluate_expr",
    "evaluate_when",
    "expand_env",
    "render_value",
]
