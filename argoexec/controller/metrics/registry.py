"""The metrics of one run, and their Prometheus text.

`MetricRegistry.apply(sample)` is Argo's `UpsertCustomMetric`: a name keeps the `help` and
the kind it was first emitted with (a change is refused with Argo's message); a gauge is set,
added to or subtracted from (`operation`), a counter adds its value, a histogram observes it
into the buckets it was first emitted with; a real-time gauge reads its value when written.
Each series is `name{labels}`.

`text()` writes the Prometheus text exposition format with `prometheus-client` (imported on
first use), as Argo's exporter names custom metrics: `argo_workflows_<name>`. Argo v3.6+
emits a custom counter through an OpenTelemetry up/down counter, which its Prometheus exporter
writes as a `gauge` with no `_total` suffix; so does this.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .evaluate import Sample

PREFIX = "argo_workflows_"
_LABELS = tuple[tuple[str, str], ...]


@dataclass
class _Series:
    value: float = 0.0
    live: Callable[[], float] | None = None
    counts: list[int] = field(default_factory=list)  # histogram: per bucket, not cumulative
    total: int = 0
    sum: float = 0.0


@dataclass
class _Family:
    help: str
    kind: str
    buckets: tuple[float, ...] = ()
    series: dict[_LABELS, _Series] = field(default_factory=dict)


class MetricError(Exception):
    """A sample that does not fit the metric of that name; `str()` is Argo's message."""


class MetricRegistry:
    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._families)

    def apply(self, sample: Sample) -> None:
        with self._lock:
            family = self._family(sample)
            series = family.series.setdefault(sample.labels, _Series())
            if sample.live is not None:
                series.live = sample.live
            elif sample.kind == "histogram":
                _observe(family, series, sample.value)
            elif sample.kind == "counter":
                series.value += sample.value
            else:
                series.live = None
                series.value = _gauge(series.value, sample.operation, sample.value)

    def _family(self, sample: Sample) -> _Family:
        family = self._families.get(sample.name)
        if family is None:
            family = _Family(help=sample.help, kind=sample.kind, buckets=sample.buckets)
            self._families[sample.name] = family
            return family
        if family.help != sample.help:
            raise MetricError(
                f"Help for metric {sample.name} is already set to {family.help}, "
                "it cannot be changed"
            )
        if family.kind != sample.kind:
            raise MetricError(
                f"Found existing {family.kind} for custom metric {sample.name} "
                f"of type {sample.kind}"
            )
        return family

    def text(self) -> str:
        """All metrics in the Prometheus text format (empty when there are none)."""
        if not self._families:
            return ""
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return generate_latest(registry).decode("utf-8")

    def families(self) -> Iterator[Any]:
        """prometheus-client metric families of a snapshot of the metrics."""
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        with self._lock:
            snapshot = [
                (name, family, [(labels, _copy(s)) for labels, s in family.series.items()])
                for name, family in sorted(self._families.items())
            ]
        for name, family, series in snapshot:
            full = PREFIX + name
            keys = sorted({k for labels, _ in series for k, _ in labels})
            if family.kind == "histogram":
                histogram = HistogramMetricFamily(full, family.help, labels=keys)
                for labels, s in series:
                    histogram.add_metric(
                        _values(labels, keys), _buckets(family.buckets, s.counts), s.sum
                    )
                yield histogram
                continue
            gauge = GaugeMetricFamily(full, family.help, labels=keys)
            for labels, s in series:
                gauge.add_metric(_values(labels, keys), s.live() if s.live else s.value)
            yield gauge


class _Collector:
    def __init__(self, registry: MetricRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        return self.registry.families()


def _copy(series: _Series) -> _Series:
    return _Series(series.value, series.live, list(series.counts), series.total, series.sum)


def _values(labels: _LABELS, keys: list[str]) -> list[str]:
    given = dict(labels)
    return [given.get(k, "") for k in keys]


def _gauge(current: float, operation: str, value: float) -> float:
    if operation == "Add":
        return current + value
    if operation == "Sub":
        return current - value
    return value  # Set, and Argo's default for any other operation


def _observe(family: _Family, series: _Series, value: float) -> None:
    if not series.counts:
        series.counts = [0] * (len(family.buckets) + 1)
    index = next((i for i, bound in enumerate(family.buckets) if value <= bound), -1)
    series.counts[index] += 1
    series.total += 1
    series.sum += value


def _buckets(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    """Cumulative `(le, count)` pairs, ending with `+Inf`."""
    counts = counts or [0] * (len(bounds) + 1)
    cumulative: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*bounds, math.inf), counts, strict=True):
        running += count
        cumulative.append(("+Inf" if math.isinf(bound) else _le(bound), float(running)))
    return cumulative


def _le(bound: float) -> str:
    return repr(float(bound))
