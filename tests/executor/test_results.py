"""Reading results back for ``wait``: outputs.result, output parameters, progress, file sink."""

from __future__ import annotations

import json
from pathlib import Path

from argoexec.contract import RESULT_MAX_BYTES
from argoexec.executor.progress import latest_progress, parse_progress
from argoexec.executor.results import ParameterOutcome, capture_result, read_parameters
from argoexec.executor.sinks import FileSink, is_completed
from argoexec.executor.wait_template import WaitTemplate, read_wait_template
from argoexec.varrun import VarRun


def test_the_result_drops_exactly_one_trailing_newline(tmp_path: Path) -> None:
    out = tmp_path / "stdout"
    out.write_bytes(b"hello\n\n")
    result = capture_result(out)
    assert (result.value, result.truncated) == ("hello\n", False)


def test_a_result_over_256_kib_keeps_the_tail_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "stdout"
    out.write_bytes(b"a" * 10 + b"b" * RESULT_MAX_BYTES + b"\n")
    result = capture_result(out)
    assert result.truncated
    assert result.value == "b" * RESULT_MAX_BYTES
    assert result.original_bytes == RESULT_MAX_BYTES + 10


def test_truncation_never_splits_a_utf8_character(tmp_path: Path) -> None:
    out = tmp_path / "stdout"
    out.write_bytes("é".encode() * RESULT_MAX_BYTES)
    value = capture_result(out).value
    assert set(value) == {"é"}
    assert len(value.encode()) <= RESULT_MAX_BYTES


def template_with(params: list[dict[str, object]], **extra: object) -> WaitTemplate:
    return read_wait_template(json.dumps({"outputs": {"parameters": params}, **extra}))


def read(
    template: WaitTemplate, varrun: VarRun, mainctrfs: Path | None = None, max_bytes: int = 0
) -> ParameterOutcome:
    return read_parameters(
        template.declared_outputs()["parameters"],
        varrun,
        mounts=template.volume_mount_paths(),
        supplied_inputs=[],
        mainctrfs=mainctrfs or Path("/mainctrfs"),
        max_bytes=max_bytes,
    )


def test_parameters_are_read_from_the_emissary_copy(tmp_path: Path) -> None:
    varrun = VarRun(tmp_path / "var-run-argo")
    copy = varrun.output_parameter("/tmp/p")
    copy.parent.mkdir(parents=True)
    copy.write_text("value\n")
    outcome = read(template_with([{"name": "p", "valueFrom": {"path": "/tmp/p"}}]), varrun)
    assert outcome.error is None
    assert outcome.parameters[0].get("value") == "value"


def test_parameters_in_a_volume_are_read_through_mainctrfs(tmp_path: Path) -> None:
    mirror = tmp_path / "mainctrfs"
    (mirror / "data").mkdir(parents=True)
    (mirror / "data" / "p").write_text("from-volume")
    template = template_with(
        [{"name": "p", "valueFrom": {"path": "/data/p"}}],
        container={"volumeMounts": [{"name": "v", "mountPath": "/data"}]},
    )
    outcome = read(template, VarRun(tmp_path / "vr"), mainctrfs=mirror)
    assert outcome.parameters[0].get("value") == "from-volume"


def test_a_missing_parameter_file_takes_its_default(tmp_path: Path) -> None:
    template = template_with([{"name": "p", "valueFrom": {"path": "/nope", "default": ""}}])
    outcome = read(template, VarRun(tmp_path))
    assert outcome.error is None
    assert outcome.parameters[0].get("value") == ""


def test_a_missing_parameter_without_default_stops_later_parameters(tmp_path: Path) -> None:
    varrun = VarRun(tmp_path)
    later = varrun.output_parameter("/later")
    later.parent.mkdir(parents=True)
    later.write_text("x")
    template = template_with(
        [
            {"name": "missing", "valueFrom": {"path": "/nope"}},
            {"name": "later", "valueFrom": {"path": "/later"}},
        ]
    )
    outcome = read(template, varrun)
    assert outcome.error is not None
    assert "missing" in outcome.error
    assert "/nope" in outcome.error
    assert outcome.parameters[1].get("value") is None


def test_progress_takes_the_last_valid_line(tmp_path: Path) -> None:
    progress = tmp_path / "progress"
    progress.write_text("1/10\n\n 3/10 \n\n")
    assert latest_progress(progress) == "3/10"
    assert parse_progress("11/10") is None
    assert parse_progress("1/0") is None
    assert parse_progress("x") is None


def test_the_file_sink_claims_completion_only_after_finalize(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "result.json", name="node-1")
    sink.initialize()
    assert not is_completed(json.loads(sink.path.read_text()))
    sink.report({"outputs": {"parameters": [{"name": "p", "value": "v"}], "result": "r"}})
    sink.report({"progress": "1/2"})
    doc = json.loads(sink.path.read_text())
    assert not is_completed(doc)
    assert doc["outputs"]["result"] == "r"
    assert doc["progress"] == "1/2"
    sink.finalize()
    assert is_completed(json.loads(sink.path.read_text()))
    assert not list(tmp_path.glob(".*tmp"))


def _parameter_files(varrun: VarRun, **values: bytes) -> WaitTemplate:
    for name, data in values.items():
        path = varrun.output_parameter(f"/tmp/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return template_with([{"name": n, "valueFrom": {"path": f"/tmp/{n}"}} for n in values])


def test_parameters_past_the_cap_all_together_stop_with_an_error_naming_the_parameter(
    tmp_path: Path,
) -> None:
    varrun = VarRun(tmp_path)
    template = _parameter_files(varrun, a=b"x" * 60, b=b"y" * 60, c=b"z")
    outcome = read(template, varrun, max_bytes=100)

    assert outcome.error == (
        "output parameter 'b': /tmp/b: the node's output parameters would hold more than 100 "
        "bytes, the most a WorkflowTaskResult carries (pass large values as artifacts, or "
        "raise the cap with ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES; 0 = no cap)"
    )
    assert [p.get("value") for p in outcome.parameters] == ["x" * 60, None, None]


def test_a_parameter_file_far_past_the_cap_is_not_read_whole(tmp_path: Path) -> None:
    varrun = VarRun(tmp_path)
    template = _parameter_files(varrun, big=b"")
    with varrun.output_parameter("/tmp/big").open("wb") as file:
        file.truncate(8 * 1024**3)  # sparse, 8 GiB: reading it whole would not end well
    outcome = read(template, varrun, max_bytes=1024)

    assert outcome.error is not None and "more than 1024 bytes" in outcome.error


def test_the_cap_counts_a_value_without_its_trailing_newline_and_zero_means_none(
    tmp_path: Path,
) -> None:
    varrun = VarRun(tmp_path)
    template = _parameter_files(varrun, a=b"x" * 100 + b"\n")

    at_cap = read(template, varrun, max_bytes=100)
    no_cap = read(template, varrun, max_bytes=0)

    assert at_cap.error is None and at_cap.parameters[0].get("value") == "x" * 100
    assert no_cap.error is None and no_cap.parameters[0].get("value") == "x" * 100


def test_a_parameter_that_is_not_utf8_reads_as_go_writes_it(tmp_path: Path) -> None:
    varrun = VarRun(tmp_path)
    template = _parameter_files(varrun, a=b"ok \xff\xfe end")
    outcome = read(template, varrun)

    assert outcome.error is None
    assert outcome.parameters[0].get("value") == "ok \ufffd\ufffd end"
