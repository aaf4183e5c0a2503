"""Argo's custom metrics (`metrics.prometheus` on templates and on the workflow spec):
`evaluate` (pure: specs and variables -> samples and warnings), `registry` (the run's series
and their Prometheus text) and `recorder` (what the engine calls when nodes start and finish).
"""

from __future__ import annotations

from .evaluate import Sample, evaluate, metric_scope, parse_go_float
from .recorder import CONDITION, MetricsRecorder, prometheus_specs
from .registry import PREFIX, MetricError, MetricRegistry

__all__ = [
    "CONDITION",
    "PREFIX",
    "MetricError",
    "MetricRegistry",
    "MetricsRecorder",
    "Sample",
    "evaluate",
    "metric_scope",
    "parse_go_float",
    "prometheus_specs",
]
