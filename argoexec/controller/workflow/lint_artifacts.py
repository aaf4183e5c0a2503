"""Artifact checks for ``argoexec lint``: every literal ``subPath`` of an artifact (arguments,
inputs, outputs) must be a clean relative path. One with ``{{...}}`` tags is checked when the
workflow runs, after substitution."""

from __future__ import annotations

import re
from typing import Any

from argoexec.controller.workflow.lint_expr import strings
from argoexec.controller.workflow.problems import Problem
from artifacts.subpath import sub_path_problem

_ARTIFACT_SUB_PATH = re.compile(r"\.artifacts\[\d+\]\.subPath\Z")


def check_sub_paths(node: Any, path: str) -> list[Problem]:
    """Problems with the artifact subPaths anywhere under ``node`` (found at ``path``)."""
    problems: list[Problem] = []
    for where, key, text in strings(node, path):
        if key != "subPath" or not text or "{{" in text or not _ARTIFACT_SUB_PATH.search(where):
            continue
        problem = sub_path_problem(text)
        if problem:
            problems.append(Problem(where, f"subPath {text!r} {problem}"))
    return problems
