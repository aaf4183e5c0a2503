"""`synchronization` checks for ``argoexec lint``: database-backed mutexes and semaphores (Argo's
multi-controller locks) need a synchronization database this controller does not have, a mutex
needs a name and a semaphore its ConfigMap's name and key. (The removed singular
`mutex`/`semaphore` fields are the schema check's unknown fields.)"""

from __future__ import annotations

from typing import Any

from argoexec.controller.workflow.problems import Problem

_DATABASE = "database-backed locks are not supported (no synchronization database)"


def check_synchronization(spec: Any, path: str) -> list[Problem]:
    """Problems with the workflow's and every template's `synchronization`."""
    if not isinstance(spec, dict):
        return []
    problems = _check(spec.get("synchronization"), f"{path}.synchronization")
    templates = spec.get("templates")
    for i, template in enumerate(templates if isinstance(templates, list) else []):
        if isinstance(template, dict):
            where = f"{path}.templates[{i}].synchronization"
            problems += _check(template.get("synchronization"), where)
    return problems


def _check(sync: Any, path: str) -> list[Problem]:
    if not isinstance(sync, dict):
        return []
    problems: list[Problem] = []
    for i, mutex in enumerate(_items(sync.get("mutexes"))):
        if mutex.get("database"):
            problems.append(Problem(f"{path}.mutexes[{i}].database", _DATABASE))
        elif not mutex.get("name"):  # the run would refuse it only when the node is reached
            problems.append(Problem(f"{path}.mutexes[{i}]", "a mutex needs a name"))
    for i, ref in enumerate(_items(sync.get("semaphores"))):
        where = f"{path}.semaphores[{i}]"
        if ref.get("database") is not None:
            problems.append(Problem(f"{where}.database", _DATABASE))
            continue
        selector = ref.get("configMapKeyRef")
        if not isinstance(selector, dict) or not selector.get("name") or not selector.get("key"):
            problems.append(Problem(where, "a semaphore needs configMapKeyRef.name and .key"))
    return problems


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
