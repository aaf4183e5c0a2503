"""``argoexec run FILE``: run an Argo Workflow on this machine with the ``local`` runtime (or
one instance of a CronWorkflow, as ``argo submit --from cronwf/NAME``).

Documents are loaded and linted first, so a workflow with a bad reference, a cyclic DAG, an
expression that does not parse or a missing argument is refused before anything runs. They are
decoded as ``argo submit`` decodes them (``--strict``, true by default; ``--strict=false`` drops
unknown fields with a warning each): the run works on, and stores, the decoded Workflow. The run's
state lives under the state directory (``argoexec list/get/logs/resume/stop`` read it); the
exit code is 0 if and only if the workflow Succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

import yaml

from argoexec import safeyaml
from argoexec.commands import Invocation, UsageError
from argoexec.commands.controller_settings import controller_settings
from argoexec.commands.interrupts import handled_by
from argoexec.commands.lint import STRICT_HINT
from argoexec.commands.statedir import state_store
from argoexec.commands.workflows import assignments
from argoexec.config import executor_env
from argoexec.contract import (
    DEFAULT_EXECUTOR_IMAGE,
    MAIN_CONTAINER,
    PODMAN_EXECUTOR_IMAGE,
    PODMAN_RUNTIME,
)
from argoexec.controller.loop.caches import DirectoryCaches
from argoexec.controller.loop.local import RUN_FILE, LocalRuns, RunConfig, RunLock, file_locks
from argoexec.controller.loop.options import EngineError, RunOptions
from argoexec.controller.loop.runner import WorkflowRunner, override_parameters
from argoexec.controller.loop.state_store import DirectoryStore
from argoexec.controller.progress import Progress
from argoexec.controller.render import pod_name_of, render_workflow
from argoexec.controller.runtime.local import default_max_pods
from argoexec.controller.runtime.podman import PodmanError, image_exists, podman_binary
from argoexec.controller.runtime.podman_pod import LOCAL_REGISTRY
from argoexec.controller.state import RunDir, StateError, StateStore
from argoexec.controller.workflow.cron import workflow_from_cron
from argoexec.controller.workflow.defaults import DefaultsError, with_defaults
from argoexec.controller.workflow.documents import (
    DocumentError,
    Documents,
    load_documents,
    merge_workflow_template,
    workflow_name,
)
from argoexec.controller.workflow.lint import Problem, lint_cron_workflow, lint_workflow
from argoexec.models import ArtifactRepository
from artifacts.locations import select_repository

log = logging.getLogger("argoexec.run")
# How long `argoexec run` waits, once the workflow has finished, for the pods it stopped or
# deleted to end (each gets its grace period: 30 s unless the pod says otherwise).
SETTLE_SECONDS = 40.0


def _parameter_file(path: Path | None) -> dict[str, str]:
    """`--parameter-file` (as `argo submit`): a YAML or JSON map of names to values."""
    if path is None:
        return {}
    try:
        document = safeyaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"--parameter-file {path}: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"--parameter-file {path}: expected a map of NAME: VALUE")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in document.items()}


def _parameters(pairs: list[str], path: Path | None = None) -> dict[str, str]:
    return {**_parameter_file(path), **assignments(pairs)}


def _repository(path: Path | None, default_root: Path) -> ArtifactRepository:
    if path is None:
        return ArtifactRepository.model_validate({"local": {"root": str(default_root)}})
    try:
        document = safeyaml.load(path.read_text(encoding="utf-8"))
        return select_repository(document)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise UsageError(f"--artifact-repository {path}: {exc}") from None


def _apply_parameters(workflow: dict[str, Any], parameters: Mapping[str, str]) -> None:
    """Put `-p` values into the workflow itself, so lint sees the arguments the run has. (Only
    for a workflow whose fields have their types: `null` may still stand for any of them.)"""
    if not isinstance(workflow.get("spec"), dict):
        workflow["spec"] = {}
    if not isinstance(workflow["spec"].get("arguments"), dict):
        workflow["spec"]["arguments"] = {}
    arguments = workflow["spec"]["arguments"]
    declared = arguments.get("parameters") or []
    if isinstance(declared, list) and all(isinstance(p, dict) for p in declared):
        arguments["parameters"] = override_parameters(declared, parameters)


def _interrupts(runner: WorkflowRunner) -> AbstractContextManager[None]:
    """The first SIGINT/SIGTERM stops the workflow (running pods end, exit handlers run); a
    second one aborts it (every pod is killed, the exit handlers' too, and the run ends with
    every node finished and its pods cleaned up); a third one interrupts at once. The handler
    only counts: the runner acts on the count (a handler must not wait for a lock)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        count = runner.interrupt()
        if count == 1:
            log.warning("stopping the workflow (again to abort)")
        elif count == 2:
            log.warning("terminating: every pod is deleted, the exit handlers' too (again to quit)")
        else:
            raise KeyboardInterrupt

    return handled_by(handler)


def _load(
    args: argparse.Namespace,
    inv: Invocation,
    parameters: Mapping[str, str],
    defaults: Mapping[str, Any],
) -> tuple[Documents, dict[str, Any]]:
    """The documents and the workflow to run (the controller configuration's
    `workflowDefaults` merged in, as Argo's controller does before it validates), refused
    (UsageError) if lint finds problems."""
    try:
        documents = load_documents(
            [Path(args.file)], template_paths=args.templates, strict=args.strict
        )
    except DocumentError as exc:
        raise UsageError(str(exc)) from None
    for warning in documents.warnings:
        inv.stderr.write(f"{warning.as_warning()}\n")
    found = len(documents.workflows) + len(documents.cron_workflows)
    if not documents.kinds.get(str(Path(args.file))):
        raise UsageError(f"{args.file}: no documents: the file is empty")
    if found != 1:
        raise UsageError(
            f"{args.file}: expected exactly one Workflow or CronWorkflow document, found {found}"
        )
    if documents.problems:  # fields of the wrong type: lint them as read, touch nothing
        problems = _lint_as_read(documents, args, parameters)
        _refuse(args, inv, [*documents.problems, *problems])
    try:
        if documents.cron_workflows:
            workflow, problems = _from_cron(documents, args, parameters, defaults)
        else:
            workflow = merge_workflow_template(documents.workflows[0], documents.templates)
            workflow = with_defaults(workflow, defaults)
            _apply_parameters(workflow, parameters)
            if args.entrypoint:
                workflow["spec"]["entrypoint"] = args.entrypoint
            problems = lint_workflow(
                workflow, documents.templates, source=str(args.file), schema=False
            )
    except (DocumentError, DefaultsError) as exc:
        raise UsageError(str(exc)) from None
    if problems:
        _refuse(args, inv, problems)
    return documents, workflow


def _lint_as_read(
    documents: Documents, args: argparse.Namespace, parameters: Mapping[str, str]
) -> list[Problem]:
    """What `argoexec lint` finds in the workflow (with the `-p` values) beyond the problems
    of its fields."""
    source = str(args.file)
    if documents.cron_workflows:
        cron = copy.deepcopy(documents.cron_workflows[0])
        spec = cron.get("spec")
        if isinstance(spec, dict) and isinstance(spec.get("workflowSpec"), dict):
            _apply_parameters({"spec": spec["workflowSpec"]}, parameters)
        return lint_cron_workflow(cron, documents.templates, source=source, schema=False)
    workflow = copy.deepcopy(documents.workflows[0])
    _apply_parameters(workflow, parameters)
    return lint_workflow(workflow, documents.templates, source=source, schema=False)


def _refuse(
    args: argparse.Namespace, inv: Invocation, problems: list[Problem], *, what: str = "run"
) -> NoReturn:
    """Print every problem and refuse the run: field names and types of every document read (a
    WorkflowTemplate too: Argo would have refused to create it), or the workflow's references
    as the run would use it."""
    for problem in problems:
        inv.stderr.write(f"{problem}\n")
    hint = f" ({STRICT_HINT})" if any(p.strict_only for p in problems) else ""
    raise UsageError(f"{args.file}: {len(problems)} problem(s); nothing was {what}{hint}")


def _from_cron(
    documents: Documents,
    args: argparse.Namespace,
    parameters: Mapping[str, str],
    defaults: Mapping[str, Any],
) -> tuple[dict[str, Any], list[Problem]]:
    """One run of the CronWorkflow now, as `argo submit --from cronwf/NAME` creates it: `-p`
    and `--entrypoint` apply to its workflowSpec; lint checks the CronWorkflow itself too."""
    cron = copy.deepcopy(documents.cron_workflows[0])
    spec = cron.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("workflowSpec"), dict):
        _apply_parameters({"spec": spec["workflowSpec"]}, parameters)
        if args.entrypoint:
            spec["workflowSpec"]["entrypoint"] = args.entrypoint
    problems = lint_cron_workflow(cron, documents.templates, source=str(args.file), schema=False)
    converted = workflow_from_cron(cron, datetime.now().astimezone())
    merged = merge_workflow_template(converted, documents.templates)
    return with_defaults(merged, defaults), problems


def run(args: argparse.Namespace, inv: Invocation) -> int:
    parameters = _parameters(args.parameter, getattr(args, "parameter_file", None))
    controller = controller_settings(getattr(args, "controller_config", None))
    documents, workflow = _load(args, inv, parameters, controller.workflow_defaults)
    store = state_store(args, inv, mode="create")
    name = workflow_name(workflow)
    kubeconfig = getattr(args, "kubeconfig", None) or next(iter(inv.config.kubeconfig), None)
    options = RunOptions(
        artifact_repository=_repository(args.artifact_repository, store.root / "artifacts"),
        config_maps=documents.config_maps,
        secrets_dir=args.secrets_dir,
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        executor_image=_executor_image(args),
        runtime=args.runtime,
        images=controller.images,
        namespace=getattr(args, "namespace", None)
        or str((workflow.get("metadata") or {}).get("namespace") or "default"),
        log_level=logging.getLevelName(logging.getLogger().level).lower(),
        executor_env=executor_env(inv.config.environ),
        max_output_parameters_bytes=inv.config.max_output_parameters_bytes,
    )
    _set_limits(options, args, inv)
    if options.runtime == PODMAN_RUNTIME:
        _check_podman(options.executor_image)
    config = RunConfig.of(options, sandbox=not args.no_sandbox, templates=documents.templates)
    workflows = DirectoryStore(store.root)
    pods = LocalRuns(store.root)
    stream = inv.stderr if args.output else inv.stdout
    progress: Progress | _LogPrinter = Progress(stream, is_tty=stream.isatty())
    if args.log:
        progress = _LogPrinter(lambda pod, ctr: pods.logs(name, pod, ctr), stream)
    recorder: _Recorder | None = None

    def on_change(snapshot: dict[str, Any]) -> None:
        if recorder is not None:
            recorder.record(runner)
        progress.update(snapshot)

    try:
        runner = WorkflowRunner(
            workflow,
            name=name,
            runtime=None,
            results=None,
            store=documents.templates,
            options=options,
            on_change=on_change,
            workflows=workflows,
            pods=pods,
            caches=DirectoryCaches(store.root),
            locks=file_locks(store.root, workflows),
        )
    except EngineError as exc:
        raise UsageError(f"{args.file}: {exc}; nothing was run") from None
    lock: RunLock | None = None  # the run's, taken before any `argoexec controller` sees it
    try:
        # From before the Workflow exists: an interrupt once it does stops it (none is lost
        # to the default handler in between, which would leave the run to any controller).
        with _interrupts(runner):
            run_dir, lock = _start_state(store, workflows, runner, config)
            recorder = _Recorder(run_dir)
            pods.backend(name, config)
            try:
                final = runner.run()
            except StateError:  # the outcome is shown even when it could not be recorded
                _print_final(runner.workflow(), args, inv, tree_shown=False)
                raise
        if not pods.settle(name, SETTLE_SECONDS):
            log.warning("pods of %s still running after %.0f s; leaving them", name, SETTLE_SECONDS)
    finally:
        pods.close()
        if lock is not None:
            lock.release()
    progress.close()
    try:
        recorder.record(runner, final=final)
    finally:  # the outcome is shown even when it could not be recorded
        _print_final(final, args, inv, tree_shown=stream.isatty() and not args.log)
    return 0 if final["status"]["phase"] == "Succeeded" else 1


def _executor_image(args: argparse.Namespace) -> str:
    """The image of executor containers: given, or the runtime's default (the podman runtime
    runs the locally built `localhost/argoexec:latest`; the local one ignores images)."""
    given = getattr(args, "executor_image", None)
    if given:
        return str(given)
    return PODMAN_EXECUTOR_IMAGE if args.runtime == PODMAN_RUNTIME else DEFAULT_EXECUTOR_IMAGE


def _check_podman(executor_image: str) -> None:
    """Refuse before anything runs when podman cannot run the pods: podman missing, or a
    local executor image (which no registry can give) not built."""
    try:
        podman_binary()
        if executor_image.startswith(LOCAL_REGISTRY) and not image_exists(executor_image):
            raise UsageError(
                f"--runtime podman: the executor image {executor_image} is not built here "
                "(make image), and a localhost/ image cannot be pulled; nothing was run"
            )
    except PodmanError as exc:
        raise UsageError(f"--runtime podman: {exc}; nothing was run") from None


def _set_limits(options: RunOptions, args: argparse.Namespace, inv: Invocation) -> None:
    """The run's bounds and pod networks: an option wins over its environment variable,
    which wins over the default (`RunOptions`', the machine's for `--max-pods`)."""
    env = inv.config.run_limits
    children = getattr(args, "max_children", None)
    children = env.max_children if children is None else children
    if children is not None:
        options.max_children = children
    pods = getattr(args, "max_pods", None)
    pods = env.max_pods if pods is None else pods
    options.max_pods = default_max_pods() if pods is None else pods
    network = getattr(args, "pod_network", None) or env.pod_network
    if network is not None:
        options.pod_network = network


def _start_state(
    store: StateStore, workflows: DirectoryStore, runner: WorkflowRunner, config: RunConfig
) -> tuple[RunDir, RunLock]:
    """The run's directory with its Workflow (Pending) and options in it, before anything runs:
    a run whose state cannot be recorded (a full disk) does not start and leaves nothing
    behind. The options are written with the Workflow: a controller that finds the run (this
    process killed at once) can drive it. The run's lock is taken before the run is listed,
    so no `argoexec controller` drives it while this process does."""
    taken: list[RunLock] = []

    def take_lock(path: Path) -> None:
        lock = RunLock(path)
        if not lock.take():
            raise StateError(f"cannot lock the new run's directory {path}")
        taken.append(lock)

    try:
        runner.submit(
            partial(workflows.create, files={RUN_FILE: config.text()}, before_listed=take_lock)
        )
        run_dir = store.open(runner.name)
        run_dir.mark_owner(os.getpid())
    except StateError as exc:
        for lock in taken:
            lock.release()
        with contextlib.suppress(StateError):
            store.remove(store.open(runner.name))
        raise StateError(f"{exc}; nothing was run") from None
    return run_dir, taken[0]


class _Recorder:
    """Writes the run's custom metrics (`metrics.prom`) as the workflow changes (its status is
    stored by the loop). A write that fails while the run goes on (a full disk) is logged once
    per cause and made again with the next change; the last write's failure is the run's error
    (exit 64)."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir
        self._told: set[str] = set()

    def record(self, runner: WorkflowRunner, *, final: dict[str, Any] | None = None) -> None:
        try:
            metrics = runner.metrics
            if metrics.registry:  # real-time gauges are read now
                self.run_dir.write_metrics(metrics.text())
        except StateError as exc:
            if final is not None:
                phase = (final.get("status") or {}).get("phase")
                raise StateError(
                    f"workflow {self.run_dir.name} ended {phase}, but its metrics could not "
                    f"be recorded: {exc}"
                ) from None
            if str(exc) not in self._told:
                self._told.add(str(exc))
                log.warning(
                    "%s; the run goes on, the metrics are written again at the next change", exc
                )


def _print_final(
    final: dict[str, Any], args: argparse.Namespace, inv: Invocation, *, tree_shown: bool
) -> None:
    if args.output == "json":
        inv.stdout.write(json.dumps(final, indent=2) + "\n")
    elif args.output == "yaml":
        inv.stdout.write(yaml.safe_dump(final, sort_keys=False))
    elif not tree_shown:  # the live view already left the final tree on the terminal
        inv.stdout.write(render_workflow(final) + "\n")
    inv.stdout.flush()


class _LogPrinter:
    """``--log`` (as ``argo submit --log``): each pod's main log once its node finished, every
    line prefixed with the node's display name, instead of the live tree."""

    def __init__(self, logs: Callable[[str, str], str], out: TextIO) -> None:
        self.logs = logs
        self.out = out
        self.printed: set[str] = set()

    def update(self, workflow: dict[str, Any]) -> None:
        nodes = (workflow.get("status") or {}).get("nodes") or {}
        finished = [
            node
            for node in nodes.values()
            if node.get("type") == "Pod"
            and node.get("finishedAt")
            and node.get("id") not in self.printed
        ]
        for node in sorted(finished, key=lambda n: (n["finishedAt"], n.get("startedAt", ""))):
            self.printed.add(str(node["id"]))
            pod = pod_name_of(workflow, node)
            if pod is None:
                continue
            for line in self.logs(pod, MAIN_CONTAINER).splitlines():
                self.out.write(f"{node.get('displayName')}: {line}\n")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()
