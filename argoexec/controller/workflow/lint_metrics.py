"""Metric checks for ``argoexec lint``: what Argo's `validateTemplate` refuses in a template's
`metrics.prometheus` before anything runs, beyond the schema (which already requires `help`
and each kind's `value`). A problem in `spec.metrics`, which Argo does not validate, and
anything only known at run time are warnings when the metric is emitted. A name or label key
that holds `{{...}}` is checked once substituted, at run time.
"""

from __future__ import annotations

from typing import Any

from argoexec.controller.metrics.evaluate import NAME
from argoexec.controller.workflow.problems import Problem, join


def check_metrics(metrics: Any, path: str, label: str) -> list[Problem]:
    """Problems of one template's `metrics` (at `path`); `label` names the template."""
    prometheus = metrics.get("prometheus") if isinstance(metrics, dict) else None
    if not isinstance(prometheus, list):
        return []
    problems: list[Problem] = []
    for index, metric in enumerate(prometheus):
        if isinstance(metric, dict):
            problems += _check_metric(metric, join(join(path, "prometheus"), index), label)
    return problems


def _check_metric(metric: dict[str, Any], path: str, label: str) -> list[Problem]:
    name = str(metric.get("name") or "")
    found: list[Problem] = []
    if "{{" not in name and not NAME.fullmatch(name):
        found.append(
            Problem(
                join(path, "name"),
                f"{label} metric name '{name}' is invalid. Metric names must contain "
                "alphanumeric characters or '_'",
            )
        )
    for index, item in enumerate(metric.get("labels") or []):
        key = str(item.get("key") or "") if isinstance(item, dict) else ""
        if "{{" not in key and not NAME.fullmatch(key):
            found.append(
                Problem(
                    join(join(join(path, "labels"), index), "key"),
                    f"metric label '{key}' is invalid: keys may only contain alphanumeric "
                    "characters or '_'",
                )
            )
    gauge = metric.get("gauge")
    if (
        isinstance(gauge, dict)
        and gauge.get("realtime")
        and "resourcesDuration." in str(gauge.get("value"))
    ):
        found.append(
            Problem(
                join(path, "gauge"),
                f"{label} metric '{name}' error: 'resourcesDuration.*' metrics cannot be used "
                "in real-time",
            )
        )
    return found
