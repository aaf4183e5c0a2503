"""Expression checks for ``argoexec lint``: each expression must parse (none is evaluated).

* ``{{= ... }}`` tags in any string: expr-lang.
* fields that are expr-lang as a whole: ``expression`` (retryStrategy, hooks, valueFrom,
  data transformations, metric labels) and ``http.successCondition``.
* ``when`` fields: govaluate, after each ``{{...}}`` tag is replaced by a bare word, as Argo
  substitutes the tags before it parses (a bare word reads as a string).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from argoexec.controller.expr import ExpressionError
from argoexec.controller.expr.govaluate_lexer import GToken, WhenSyntaxError, check_syntax, tokenize
from argoexec.controller.expr.limits import bounded
from argoexec.controller.expr.parser import parse
from argoexec.controller.workflow.problems import Problem, join

EXPR_TAG = re.compile(r"\{\{=(.*?)\}\}", re.DOTALL)
ANY_TAG = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def strings(node: Any, path: str) -> Iterator[tuple[str, str, str]]:
    """Every string under ``node``: (path, key it is the value of, text)."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = join(path, str(key))
            if isinstance(value, str):
                yield sub, str(key), value
            else:
                yield from strings(value, sub)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            sub = join(path, index)
            if isinstance(value, str):
                yield sub, "", value
            else:
                yield from strings(value, sub)


@bounded("expr")
def parse_expr(text: str) -> None:
    """Raise `ExpressionError` unless ``text`` parses as expr-lang (the recursive parser's
    limits included, as when the expression runs)."""
    parse(text.strip())


@bounded("when")
def parse_when(text: str) -> None:
    """Raise `ExpressionError` unless ``text`` (a ``when`` condition) parses as govaluate."""
    substituted = ANY_TAG.sub("x", text)
    if not substituted.strip():
        return
    try:
        tokens = tokenize(substituted)
        # As Argo: bare words become strings, then the token order is checked again.
        check_syntax(
            [GToken("STRING", t.value, t.pos) if t.kind == "VARIABLE" else t for t in tokens]
        )
    except WhenSyntaxError as exc:
        raise ExpressionError(exc.reason, expression=text, phase="parse", dialect="when") from None


def check_expressions(node: Any, path: str) -> list[Problem]:
    """Problems with the expressions anywhere under ``node`` (found at ``path``)."""
    problems: list[Problem] = []
    for where, key, text in strings(node, path):
        for match in EXPR_TAG.finditer(text):
            try:
                parse_expr(match.group(1))
            except ExpressionError as exc:
                problems.append(Problem(where, str(exc)))
        whole_expr = key == "expression" or (
            key == "successCondition" and where.endswith(".http.successCondition")
        )
        try:
            if whole_expr and "{{" not in text:
                parse_expr(text)
            elif key == "when":
                parse_when(text)
        except ExpressionError as exc:
            problems.append(Problem(where, str(exc)))
    return problems
