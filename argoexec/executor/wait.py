"""``argoexec wait``: the post-main phase of a legacy workflow pod (argo-contract.md §4).

Flow (§4.1): create the result (not completed) → wait for every main container's ``exitcode``
with the deadline and progress monitors running → capture ``outputs.result``, read the output
parameters, save the output artifacts (each step records its error and the next one still
runs) → archive the logs → report the outputs → stop the artifact-plugin sidecars (signal
files, §4.10) → mark the result completed. A ``resource`` template (it has a wait container only
when logs are archived) reports its log artifacts and nothing else. The waiting ends when every
``exitcode`` file exists; their content is not read (§15 quirk 12), except as noted below.

Choices where Argo's behaviour is surprising (§15 and the notes of §4):

* Completion is claimed only after the outputs were reported: if reporting fails, or ``wait``
  is killed before it, the result stays ``completed=false`` (Argo finalises in a deferred call,
  even after a failed report).
* ``outputs.result`` longer than 256 KiB keeps its last 256 KiB (Argo's rule), but never
  silently: a WARN line names the original size, and the reported ``message`` says so too.
* A missing ``stdout`` file is an error only when main succeeded: when main's emissary
  recorded a failure (its command was never started, say) there is no result, and the node
  already fails for main's reason — the wait container does not add a second failure.
* The last valid progress read from the progress file is part of the final report, so a value
  written just before main exits is not lost between two patch ticks.
* Every collected error reaches the termination log, joined with ``; `` in the order they
  happened (Argo keeps only the first); the exit code is 64 as in Argo.
* SIGTERM ends only the waiting (``Wait.waiting``); capturing, uploading and reporting use
  tokens SIGTERM never sets, so a terminated ``wait`` still delivers the outputs (§4, §1.9).

Artifact staging decisions are in :mod:`argoexec.executor.outputs`. The result is reported as the
JSON form of a ``NodeResult``; a template that moves no artifacts is read without its model
(:mod:`argoexec.executor.wait_template`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argoexec.config import PodEnv
from argoexec.contract import MAIN_CONTAINER, MAX_OUTPUT_PARAMETERS_BYTES, RESULT_MAX_BYTES
from argoexec.executor.monitors import DeadlineMonitor, ProgressMonitor, parse_deadline
from argoexec.executor.paths import PodPaths
from argoexec.executor.results import capture_result, read_parameters
from argoexec.executor.sinks import ResultSink
from argoexec.executor.wait_template import WaitTemplate
from argoexec.executor.waiting import kill_containers, wait_main_containers
from argoexec.lifecycle import Stop
from argoexec.retry import Backoff

if TYPE_CHECKING:
    # Imported on use: a template without artifacts or archived logs (most) never needs the
    # models or the artifact layer (see ``argoexec.executor.wait_template``).
    from argoexec.executor.outputs import SavedArtifact
    from argoexec.models import Template
    from artifacts.driver import DriverContext

log = logging.getLogger("argoexec.wait")


@dataclass
class Wait:
    """Everything one ``wait`` run depends on."""

    template: WaitTemplate
    paths: PodPaths
    # Called once, only when the template may save artifacts or logs (it needs the artifact
    # layer); its ``stop`` must not be the SIGTERM token: uploads always finish.
    ctx: Callable[[], DriverContext]
    sink: ResultSink
    pod: PodEnv
    backoff: Backoff = field(default_factory=Backoff)
    waiting: Stop = field(default_factory=Stop)  # set by SIGTERM: ends the waiting only
    staging: Path | None = None  # where output artifacts are staged; None: the default
    pre_main_failed: bool = False  # the supervisor's pre-main phase failed: no outputs
    max_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES  # all output parameters; 0 = no cap


@dataclass
class WaitOutcome:
    errors: list[str] = field(default_factory=list)
    reported: dict[str, Any] | None = None  # the JSON form of the reported NodeResult
    saved: list[SavedArtifact] = field(default_factory=list)
    completed: bool = False


def supplied_inputs(template: Template) -> list[str]:
    """Paths of input artifacts that were supplied: an optional input without a location or
    key was not, so its path is an ordinary base-image path (§4.5.1)."""
    inputs = template.inputs.artifacts if template.inputs and template.inputs.artifacts else []
    if not inputs:
        return []
    # Imported on use: artifacts.locations pulls in YAML, which a pod without artifacts never needs.
    from artifacts.locations import has_key, has_location

    return [a.path for a in inputs if a.path and (has_location(a) or has_key(a) or not a.optional)]


def run_wait(w: Wait) -> WaitOutcome:
    deadline = parse_deadline(w.pod.deadline)  # a bad deadline fails before anything is written
    out = WaitOutcome()
    _step(out, "failed to create the task result", w.sink.initialize)
    progress = _wait_with_monitors(w, out, deadline)
    model = w.template.model  # set only for templates that may save artifacts or logs
    saving = (model, w.ctx()) if model is not None else None
    if w.template.is_resource:
        _save_logs(w, out, saving)
        _report(w, out, {"outputs": _with_artifacts({}, out.saved)})
        return out
    outputs = w.template.declared_outputs()
    message = None
    if not w.pre_main_failed:
        message = _capture_result(w, out, outputs)
        _save_parameters(w, out, outputs, model)
        if saving is not None:
            _save_artifacts(w, out, *saving)
    _save_logs(w, out, saving)
    result = {"outputs": _with_artifacts(outputs, out.saved), "progress": progress}
    _report(w, out, result | {"message": message})
    return out


def _save_artifacts(w: Wait, out: WaitOutcome, model: Template, ctx: DriverContext) -> None:
    from argoexec.executor.outputs import STAGING_DIR, ArtifactSaver

    saver = ArtifactSaver(
        model,
        w.paths,
        ctx,
        supplied_inputs(model),
        staging=w.staging or STAGING_DIR,
        remove_local=w.pod.remove_local_art_path,
    )
    artifacts = saver.save_all()
    out.errors += artifacts.errors
    out.saved += artifacts.saved


def _save_logs(w: Wait, out: WaitOutcome, saving: tuple[Template, DriverContext] | None) -> None:
    """``archiveLocation.archiveLogs``: a template that has it always comes with its model."""
    if saving is None:
        return
    model, ctx = saving
    from argoexec.executor.logs_archive import archive_logs_enabled, save_logs

    if archive_logs_enabled(model):
        logs = save_logs(model, w.paths.varrun, ctx)
        out.errors += logs.errors
        out.saved += logs.saved


def _step(out: WaitOutcome, what: str, fn: Callable[[], object]) -> bool:
    try:
        fn()
    except Exception as exc:  # recorded; the remaining steps still run (§4.1)
        log.error("%s: %s", what, exc)
        out.errors.append(f"{what}: {exc}")
        return False
    return True


def _wait_with_monitors(w: Wait, out: WaitOutcome, deadline_at: datetime | None) -> str | None:
    """Wait for the main containers; the latest valid progress seen meanwhile."""
    containers = w.template.main_containers()
    done = Stop()
    deadline = DeadlineMonitor(
        deadline_at,
        varrun=w.paths.varrun,
        containers=containers,
        grace_seconds=w.pod.grace_seconds,
        termination_log=w.paths.termination_log,
        done=done,
    )
    progress = ProgressMonitor(
        Path(w.pod.progress_file) if w.pod.progress_file else w.paths.varrun.progress,
        w.sink,
        file_tick=w.pod.progress_file_tick,
        patch_tick=w.pod.progress_patch_tick,
        done=done,
    )
    deadline.start()
    progress.start()
    try:
        _step(
            out,
            "failed to wait for the main containers",
            lambda: wait_main_containers(w.paths.varrun, containers, w.waiting, w.backoff),
        )
    finally:
        done.set("main containers completed")
        deadline.join()
        progress.join()
    if progress.enabled:
        progress.read()
    return progress.latest


def _capture_result(w: Wait, out: WaitOutcome, outputs: dict[str, Any]) -> str | None:
    """Set ``outputs.result``; the truncation note for the reported message, if any."""
    if not (w.pod.include_script_output and w.template.can_have_output()):
        return None
    stdout = w.paths.varrun.stdout(MAIN_CONTAINER)
    try:
        captured = capture_result(stdout)
    except OSError as exc:
        if not stdout.exists() and _main_failed(w):
            log.warning("no result: container main failed before its output was captured")
            return None
        out.errors.append(f"failed to capture the script result: {exc.strerror or exc}")
        return None
    outputs["result"] = captured.value
    if not captured.truncated:
        return None
    note = (
        f"outputs.result truncated to its last {RESULT_MAX_BYTES} bytes "
        f"(the output was {captured.original_bytes} bytes)"
    )
    log.warning(note, extra={"original_bytes": captured.original_bytes})
    return note


def _main_failed(w: Wait) -> bool:
    """Whether main's emissary recorded a non-zero exit code (e.g. its command was not found)."""
    try:
        return w.paths.varrun.exitcode(MAIN_CONTAINER).read_text().strip() not in ("", "0")
    except OSError:
        return False


def _save_parameters(
    w: Wait, out: WaitOutcome, outputs: dict[str, Any], model: Template | None
) -> None:
    if not outputs.get("parameters"):
        return
    read = read_parameters(
        outputs["parameters"],
        w.paths.varrun,
        mounts=w.template.volume_mount_paths(),
        supplied_inputs=supplied_inputs(model) if model is not None else [],
        mainctrfs=w.paths.mainctrfs,
        max_bytes=w.max_parameters_bytes,
    )
    outputs["parameters"] = read.parameters
    if read.error:
        out.errors.append(read.error)


def _with_artifacts(outputs: dict[str, Any], saved: list[SavedArtifact]) -> dict[str, Any]:
    """``outputs`` reporting the saved artifacts in place of the declared ones."""
    outputs.pop("artifacts", None)
    if saved:
        outputs["artifacts"] = [s.reported.to_wire() for s in saved]
    return outputs


def _stop_plugin_sidecars(w: Wait, out: WaitOutcome) -> None:
    """Artifact-plugin sidecars ignore SIGTERM and serve uploads until told to stop (§4.10)."""
    sidecars = list(w.pod.artifact_plugin_sidecars)
    if sidecars and not kill_containers(w.paths.varrun, sidecars, w.pod.grace_seconds):
        out.errors.append(f"artifact plugin sidecars did not stop: {', '.join(sidecars)}")


def _report(w: Wait, out: WaitOutcome, result: dict[str, Any]) -> None:
    result = {key: value for key, value in result.items() if value is not None}
    out.reported = result
    reported = _step(out, "failed to report the outputs", lambda: w.sink.report(result))
    _stop_plugin_sidecars(w, out)
    if not reported:
        log.error("not marking the result completed: its outputs were not reported")
        return
    out.completed = _step(out, "failed to mark the result completed", w.sink.finalize)
    if out.completed:
        log.info("Reported outputs", extra={"artifacts": len(out.saved)})
