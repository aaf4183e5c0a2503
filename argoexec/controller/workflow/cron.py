"""``CronWorkflow`` documents: their own checks, and the Workflow one run of them is.

``argoexec run`` of a CronWorkflow runs one instance now, as ``argo submit --from cronwf/NAME``
does: Argo's ``common.ConvertCronWorkflowToWorkflow`` builds a Workflow named
``<cron>-<5 random characters>`` from ``spec.workflowSpec``, labelled with the cron's name (and
its controller instance ID), with ``spec.workflowMetadata``'s labels, annotations and finalizers,
a controller owner reference to the CronWorkflow, and the ``scheduled-time`` annotation set to
now (Go's RFC 3339, the converting process's time zone), which ``{{workflow.scheduledTime}}``
reads.

Schedules are checked as Argo's ``ValidateCronWorkflow`` does with robfig/cron's
``ParseStandard``: five fields (minute hour day-of-month month day-of-week; month and weekday
names; ``*``, ``?``, ranges, lists, steps) or a descriptor (``@hourly``..., ``@every
<duration>``), in ``spec.timezone`` when set. croniter checks the fields' values; what it
accepts beyond robfig (a seconds or year field, ``L``, ``W``, ``#``, ``H``) is refused here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argoexec.contract import ANNOTATION_SCHEDULED_TIME, LABEL_CRON_WORKFLOW, LABEL_INSTANCE_ID
from argoexec.controller.workflow.problems import Problem, join
from argoexec.durations import parse_go_duration, rfc3339

KIND_CRON_WORKFLOW = "CronWorkflow"
# Argo's maxCharsInCronWorkflowName: room for the `-<unix time>` suffix of scheduled runs.
MAX_NAME_LENGTH = 52
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_ATOM = re.compile(r"(\*|\?|\d+|[A-Za-z]+)(?:-(\d+|[A-Za-z]+))?(?:/(\d+))?\Z")


def _field_problem(index: int, field: str) -> str | None:
    """What robfig/cron refuses in one field that croniter would take."""
    names = {3: _MONTHS, 4: _WEEKDAYS}.get(index, ())
    for part in field.split(","):
        match = _ATOM.match(part)
        if match is None:
            return f"bad {_FIELDS[index]} field {field!r}"
        for word in match.group(1, 2):
            if word and word.isalpha() and word.upper() not in names:
                return f"bad {_FIELDS[index]} field {field!r}: unknown name {word!r}"
    return None


def schedule_problem(schedule: str) -> str | None:
    """Why a schedule does not parse (robfig/cron's ParseStandard), or None."""
    text = schedule.strip()
    if text.startswith(("CRON_TZ=", "TZ=")):
        zone, _, text = text.partition(" ")
        problem = timezone_problem(zone.split("=", 1)[1])
        if problem:
            return problem
        text = text.strip()
    if not text:
        return "empty spec string"
    if text.startswith("@"):
        return _descriptor_problem(text)
    fields = text.split()
    if len(fields) != len(_FIELDS):
        return f"expected exactly 5 fields, found {len(fields)}: {text!r}"
    problems = (_field_problem(index, field) for index, field in enumerate(fields))
    problem = next((p for p in problems if p), None)
    # Imported here: only documents with schedules pay for croniter (and dateutil).
    from croniter import croniter

    if problem is None and not croniter.is_valid(text):
        problem = f"a value is out of range in {text!r}"
    return problem


def _descriptor_problem(text: str) -> str | None:
    if text.startswith("@every"):
        try:
            parse_go_duration(text[len("@every") :])
        except ValueError:
            return f"failed to parse duration {text!r}"
        return None
    return None if text in _DESCRIPTORS else f"unrecognized descriptor: {text}"


def timezone_problem(timezone: str) -> str | None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {timezone!r}"
    return None


def expression_problem(expression: str) -> str | None:
    """Why `stopStrategy.expression` does not parse as expr-lang, or None."""
    from argoexec.controller.expr.errors import ExpressionError
    from argoexec.controller.expr.parser import parse

    if not expression.strip():
        return "the expression is empty"
    try:
        parse(expression)
    except ExpressionError as exc:
        return str(exc)
    return None


def lint_cron_fields(document: Mapping[str, Any]) -> list[Problem]:
    """The CronWorkflow's own checks (Argo's ValidateCronWorkflow), each with its YAML path."""
    problems: list[Problem] = []
    name = (document.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        problems.append(
            Problem(
                "metadata.name",
                f"cron workflow name {name!r} must not be more than {MAX_NAME_LENGTH} characters "
                f"long (currently {len(name)})",
            )
        )
    spec = document.get("spec")
    if not isinstance(spec, dict):
        return problems
    timezone = spec.get("timezone")
    if isinstance(timezone, str) and timezone:
        problem = timezone_problem(timezone)
        if problem:
            problems.append(Problem("spec.timezone", problem))
    problems.extend(_schedule_problems(spec))
    policy = spec.get("concurrencyPolicy")
    if policy not in (None, "", *CONCURRENCY_POLICIES):
        problems.append(
            Problem("spec.concurrencyPolicy", f"{policy!r} is not a valid concurrencyPolicy")
        )
    expression = (spec.get("stopStrategy") or {}).get("expression")
    if isinstance(expression, str):
        problem = expression_problem(expression)
        if problem:
            problems.append(Problem("spec.stopStrategy.expression", problem))
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int) and deadline < 0:
        problems.append(
            Problem("spec.startingDeadlineSeconds", "startingDeadlineSeconds must be positive")
        )
    return problems


def _schedule_problems(spec: Mapping[str, Any]) -> Iterator[Problem]:
    if spec.get("schedules") == []:  # Argo's documentation: "Required to be a non-empty list"
        yield Problem("spec.schedules", "must have at least one schedule (it would never run)")
    for path, schedule in _schedules(spec):
        problem = schedule_problem(schedule)
        if problem:
            yield Problem(path, f"cron schedule {schedule!r} is malformed: {problem}")


def _schedules(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    schedules = spec.get("schedules")
    if isinstance(schedules, list):
        for index, schedule in enumerate(schedules):
            if isinstance(schedule, str):
                yield join("spec.schedules", index), schedule


def scheduled_name(cron_name: str, slot: float) -> str:
    """The name of the Workflow a CronWorkflow runs at `slot` (Argo's getChildWorkflowName:
    `<cron>-<unix seconds>`): one slot, one name, so a slot is never run twice."""
    return f"{cron_name}-{int(slot)}"


def workflow_from_cron(
    cron: Mapping[str, Any], now: datetime, *, name: str | None = None
) -> dict[str, Any]:
    """The Workflow ``argo submit --from cronwf/NAME`` creates at ``now`` (an aware time); with
    `name`, the one the cron controller creates for the slot ``now`` (Argo's
    ConvertCronWorkflowToWorkflowWithProperties)."""
    metadata = cron.get("metadata") or {}
    spec = cron.get("spec") or {}
    extra = spec.get("workflowMetadata") or {}
    cron_name = str(metadata.get("name") or "")
    labels: dict[str, str] = {}
    instance_id = (metadata.get("labels") or {}).get(LABEL_INSTANCE_ID)
    if instance_id is not None:
        labels[LABEL_INSTANCE_ID] = instance_id
    labels[LABEL_CRON_WORKFLOW] = cron_name
    labels.update(extra.get("labels") or {})
    annotations = {
        ANNOTATION_SCHEDULED_TIME: rfc3339(now, keep_zone=True),
        **(extra.get("annotations") or {}),
    }
    owner = {
        "apiVersion": cron.get("apiVersion"),
        "kind": KIND_CRON_WORKFLOW,
        "name": cron_name,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    if metadata.get("uid"):
        owner["uid"] = metadata["uid"]
    workflow_metadata: dict[str, Any] = (
        {"name": name} if name else {"generateName": f"{cron_name}-"}
    )
    if metadata.get("namespace"):
        workflow_metadata["namespace"] = metadata["namespace"]
    workflow_metadata.update(labels=labels, annotations=annotations, ownerReferences=[owner])
    if extra.get("finalizers"):
        workflow_metadata["finalizers"] = list(extra["finalizers"])
    return {
        "apiVersion": cron.get("apiVersion"),
        "kind": "Workflow",
        "metadata": workflow_metadata,
        "spec": copy.deepcopy(dict(spec.get("workflowSpec") or {})),
    }
