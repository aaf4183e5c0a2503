"""Argo's custom metrics, the pure parts: the variables a metric sees, the evaluation of
`metrics.prometheus` specs into samples and warnings, the registry of series and its
Prometheus text."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

from argoexec.controller.engine.scope import Scope
from argoexec.controller.metrics import (
    MetricError,
    MetricRegistry,
    MetricsRecorder,
    Sample,
    evaluate,
    metric_scope,
    parse_go_float,
)

STATUS = {
    "phase": "Failed",
    "children": ["a", "b", "c"],
    "inputs": {"parameters": [{"name": "size", "value": "7"}, {"name": "n", "value": 3}]},
    "outputs": {
        "result": "hello",
        "exitCode": "2",
        "parameters": [{"name": "score", "value": "0.75"}],
    },
}


def specs(text: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load(text)
    return loaded


def scope(**extra: str) -> Scope:
    variables = {"workflow.name": "wf", **extra}
    return metric_scope(STATUS, duration=1.5, variables=variables)


def test_a_metric_sees_the_node_and_the_workflow_variables() -> None:
    seen = scope()
    assert seen["duration"] == "1.500000"  # Go's %f
    assert seen["status"] == "Failed"
    assert seen["exitCode"] == "2"
    assert seen["outputs.result"] == "hello"
    assert seen["outputs.parameters.score"] == "0.75"
    assert seen["inputs.parameters.size"] == "7"
    assert seen["inputs.parameters.n"] == "3"
    assert seen["retries"] == "2"  # len(children) - 1, as Argo's prepareMetricScope
    assert seen["resourcesDuration.cpu"] == seen["resourcesDuration.memory"] == "0"
    assert seen["workflow.name"] == "wf"


def test_a_node_not_known_yet_has_argos_defaults() -> None:
    seen = metric_scope({}, duration=0.0, variables={})
    assert (seen["status"], seen["duration"]) == ("Pending", "0.000000")
    assert "retries" not in seen and "exitCode" not in seen


def test_gauges_counters_and_histograms_are_evaluated_with_their_variables() -> None:
    samples, warnings = evaluate(
        specs("""
- name: score_{{workflow.name}}
  help: "score of {{workflow.name}}"
  labels: [{key: status, value: "{{status}}"}, {key: code, value: "{{exitCode}}"}]
  gauge: {value: "{{outputs.parameters.score}}", operation: Add}
- name: runs
  help: runs
  counter: {value: "1"}
- name: sizes
  help: sizes
  histogram: {buckets: [10, 1, 5], value: "{{inputs.parameters.size}}"}
- name: rate
  help: rate
  gauge: {value: "{{=asFloat(outputs.parameters.score) * 100}}"}
"""),
        scope(),
        realtime={},
    )
    assert warnings == []
    gauge, counter, histogram, rate = samples
    assert (gauge.name, gauge.help, gauge.kind) == ("score_wf", "score of wf", "gauge")
    assert gauge.labels == (("code", "2"), ("status", "Failed"))
    assert (gauge.value, gauge.operation) == (0.75, "Add")
    assert (counter.kind, counter.value) == ("counter", 1.0)
    assert (histogram.value, histogram.buckets) == (7.0, (1.0, 5.0, 10.0))
    assert rate.value == 75.0


def test_when_decides_whether_a_metric_is_emitted() -> None:
    samples, warnings = evaluate(
        specs("""
- {name: failed, help: h, when: "{{status}} == Failed", counter: {value: "1"}}
- {name: succeeded, help: h, when: "{{status}} == Succeeded", counter: {value: "1"}}
- {name: big, help: h, when: "{{inputs.parameters.size}} > 5", counter: {value: "1"}}
"""),
        scope(),
        realtime={},
    )
    assert warnings == []
    assert [s.name for s in samples] == ["failed", "big"]


BAD = [
    ("{name: m, counter: {value: '1'}}", "metric 'm' must contain a help string under 'help: '"),
    (
        "{name: m, help: h, gauge: {value: '{{outputs.result}}'}}",
        "could not construct metric 'm': strconv.ParseFloat: parsing \"hello\": invalid syntax",
    ),
    (
        "{name: m, help: h, gauge: {value: ''}}",
        "could not construct metric 'm': strconv.ParseFloat: parsing \"\": invalid syntax",
    ),
    (
        "{name: m, help: h, gauge: {value: '{{nope}}'}}",
        "unable to substitute parameters for metric 'm': failed to resolve {{nope}}",
    ),
    (
        "{name: 'm-{{status}}', help: h, counter: {value: '1'}}",
        "could not construct metric 'm-Failed': metric name is invalid: names may only contain "
        "alphanumeric characters or '_'",
    ),
    (
        "{name: 'a:b', help: h, counter: {value: '1'}}",
        "metric name is invalid",
    ),
    (
        "{name: m, help: h, labels: [{key: bad-key, value: x}], counter: {value: '1'}}",
        "metric label 'bad-key' is invalid",
    ),
    (
        "{name: m, help: h, when: '{{status}} ==', counter: {value: '1'}}",
        "unable to compute 'when' clause for metric 'm'",
    ),
    (
        "{name: m, help: '{{nope}}', counter: {value: '1'}}",
        "unable to substitute parameters for metric 'm'",
    ),
    (
        "{name: m, help: h, counter: {value: '1'}, gauge: {value: '1'}}",
        "exactly one of gauge, counter or histogram is needed (found gauge, counter)",
    ),
    ("{name: m, help: h}", "exactly one of gauge, counter or histogram is needed (found none)"),
    ("{name: m, help: h, histogram: {value: '1'}}", "histogram needs buckets"),
    ("{name: m, help: h, histogram: {value: '1', buckets: [1, x]}}", "buckets must be numbers"),
    ("{name: m, help: h, labels: [k], counter: {value: '1'}}", "a label needs key and value"),
    (
        "{name: m, help: h, gauge: {realtime: true, value: 'x{{duration}}'}}",
        "real time metrics can only be used with metric variables",
    ),
    (
        "{name: m, help: h, gauge: {realtime: true, value: '{{status}}'}}",
        "'status' is not available as a real time metric",
    ),
]


@pytest.mark.parametrize(("spec", "warning"), BAD)
def test_a_bad_metric_is_left_out_with_a_warning_saying_why(spec: str, warning: str) -> None:
    good = "{name: ok, help: h, counter: {value: '1'}}"
    samples, warnings = evaluate(specs(f"[{spec}, {good}]"), scope(), realtime={})
    assert [s.name for s in samples] == ["ok"]
    assert len(warnings) == 1
    assert warning in warnings[0]


def test_a_realtime_gauge_reads_its_variable_when_written() -> None:
    clock = [2.0]
    samples, warnings = evaluate(
        specs("""
- {name: rt, help: h, gauge: {realtime: true, value: "{{ duration }}"}}
- {name: plain, help: h, gauge: {value: "1"}}
"""),
        scope(),
        realtime={"duration": lambda: clock[0]},
        realtime_only=True,
    )
    assert warnings == []
    assert [s.name for s in samples] == ["rt"]
    live = samples[0].live
    assert live is not None
    clock[0] = 9.0
    assert live() == 9.0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("-2.5", -2.5),
        ("1e3", 1000.0),
        ("+.5", 0.5),
        ("Inf", math.inf),
        ("1_000", 1000.0),
    ],
)
def test_values_parse_as_go_floats(text: str, value: float) -> None:
    assert parse_go_float(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "0x", "1,5", "abc", "--1"])
def test_values_that_are_not_go_floats_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid syntax"):
        parse_go_float(text)


def sample(name: str = "m", kind: str = "gauge", **fields: Any) -> Sample:
    return Sample(name=name, help=fields.pop("help", "h"), kind=kind, labels=(), **fields)


def test_gauges_set_add_and_sub_counters_add_histograms_observe() -> None:
    registry = MetricRegistry()
    registry.apply(sample(value=5))
    registry.apply(sample(value=2, operation="Add"))
    registry.apply(sample(value=4, operation="Sub"))
    registry.apply(sample("c", "counter", value=1))
    registry.apply(sample("c", "counter", value=2))
    for value in (0.5, 3, 3, 12):
        registry.apply(sample("h", "histogram", value=value, buckets=(1.0, 5.0)))
    labelled = Sample(name="c", help="h", kind="counter", labels=(("k", "v"),), value=7)
    registry.apply(labelled)
    text = registry.text()
    assert "# TYPE argo_workflows_m gauge\nargo_workflows_m 3.0\n" in text
    # Argo v3.6+ writes a custom counter as a gauge, without a _total suffix
    assert "# TYPE argo_workflows_c gauge\n" in text
    assert 'argo_workflows_c{k=""} 3.0\n' in text
    assert 'argo_workflows_c{k="v"} 7.0\n' in text
    assert 'argo_workflows_h_bucket{le="1.0"} 1.0\n' in text
    assert 'argo_workflows_h_bucket{le="5.0"} 3.0\n' in text
    assert 'argo_workflows_h_bucket{le="+Inf"} 4.0\n' in text
    assert "argo_workflows_h_count 4.0\n" in text
    assert "argo_workflows_h_sum 18.5\n" in text


def test_a_metric_keeps_its_help_and_its_kind() -> None:
    registry = MetricRegistry()
    registry.apply(sample(help="first"))
    with pytest.raises(MetricError, match="Help for metric m is already set to first"):
        registry.apply(sample(help="second"))
    with pytest.raises(
        MetricError, match="Found existing gauge for custom metric m of type counter"
    ):
        registry.apply(sample(kind="counter", help="first"))


def test_no_metrics_is_no_text() -> None:
    assert MetricRegistry().text() == ""


def test_the_recorder_joins_its_warnings_into_one_metrics_error_condition() -> None:
    recorder = MetricsRecorder(started=0.0)
    template = {
        "metrics": {
            "prometheus": specs("""
- {name: m, help: one, counter: {value: "1"}}
- {name: m, help: two, counter: {value: "1"}}
- {name: v, help: h, gauge: {value: "x"}}
""")
        }
    }
    recorder.node_finished(template, STATUS, variables={}, duration=1.0)
    assert recorder.conditions() == [
        {
            "type": "MetricsError",
            "status": "True",
            "message": "could not construct metric 'v': strconv.ParseFloat: parsing \"x\": "
            "invalid syntax, could not construct metric 'm': Help for metric m is already set "
            "to one, it cannot be changed",
        }
    ]
    assert "argo_workflows_m 1.0" in recorder.text()
