"""Argo's two expression languages, as the thin controller evaluates them.

* `evaluate_expr` — expr-lang, for `{{= ... }}` tags and fields such as
  `retryStrategy.expression`, with Argo's helpers (`asInt`, `asFloat`, `string`, `toJson`,
  `jsonpath`, `sprig.*`) and expr-lang's builtins (`filter`, `map`, `len`, ...).
* `evaluate_condition` — expr-lang that must yield a boolean (`retryStrategy.expression`).
* `evaluate_when` — govaluate, for `when` conditions after simple `{{...}}` substitution.
* `render_value` — how an expression result is written into a template (Go `%v`).

Every failure is an `ExpressionError` whose message names the expression and the position;
so is one nested too deeply or needing more memory than there is (`limits`).
"""

from __future__ import annotations

from . import evaluate, govaluate
from .errors import ExpressionError
from .functions import expand_env
from .limits import bounded
from .values import render_value

evaluate_expr = bounded("expr")(evaluate.evaluate_expr)
evaluate_condition = bounded("expr")(evaluate.evaluate_condition)
evaluate_when = bounded("when")(govaluate.evaluate_when)

__all__ = [
    "ExpressionError",
    "evaluate_condition",
    "evaluate_expr",
    "evaluate_when",
    "expand_env",
    "render_value",
]
