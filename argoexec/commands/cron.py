"""`argoexec cron create|list|get|delete|suspend|resume`: the CronWorkflows of the state
directory (as `argo cron ...`), which `argoexec controller` schedules; and `--cron-dir`, a
directory of CronWorkflow files the controller keeps in step with the stored ones.

`cron create FILE` lints the CronWorkflow as `argoexec run` would lint one and stores it with the
options its runs get (the same flags as `run`'s: `--templates`, `--artifact-repository`,
`--secrets-dir`, `--no-sandbox`, `--runtime`, `--executor-image`, `-p`).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path
from typing import Any, TextIO

from argoexec.commands import Invocation, UsageError
from argoexec.commands.statedir import state_store
from argoexec.controller.cron.schedule import next_of, schedules_of, zone_of
from argoexec.controller.loop.cron_local import LocalCrons, LocalScheduler
from argoexec.controller.loop.local import RunConfig
from argoexec.controller.loop.options import RunOptions
from argoexec.controller.reconcile.clock import epoch
from argoexec.controller.render import age
from argoexec.controller.state import StateError
from argoexec.controller.workflow.documents import DocumentError, Documents, load_documents
from argoexec.controller.workflow.lint import lint_cron_workflow

log = logging.getLogger("argoexec.controller")
CRON_DIR_SCAN_INTERVAL = 2.0  # seconds between two looks at --cron-dir


def _one_cron(
    path: Path, templates: list[Path], report: TextIO
) -> tuple[dict[str, Any], Documents]:
    """The one CronWorkflow of `path`, linted (UsageError naming each problem)."""
    try:
        documents = load_documents([path], template_paths=templates)
    except DocumentError as exc:
        raise UsageError(str(exc)) from None
    if len(documents.cron_workflows) != 1 or documents.workflows:
        raise UsageError(f"{path}: expected exactly one CronWorkflow document")
    cron = copy.deepcopy(documents.cron_workflows[0])
    problems = [*documents.problems]
    if not problems:
        problems = lint_cron_workflow(cron, documents.templates, source=str(path), schema=False)
    if problems:  # each on its own line, as `argoexec run` prints them
        for problem in problems:
            report.write(f"{problem}\n")
        raise UsageError(f"{path}: {len(problems)} problem(s); nothing was created")
    if not (cron.get("metadata") or {}).get("name"):
        raise UsageError(f"{path}: the CronWorkflow needs metadata.name")
    cron.pop("status", None)
    return cron, documents


def _config(
    args: argparse.Namespace,
    inv: Invocation,
    root: Path,
    docs: Documents,
    cron: dict[str, Any],
) -> RunConfig:
    """The options of the cron's runs, as `argoexec run` would take them for one (the runs are
    in the cron's namespace)."""
    from argoexec.commands.run import _executor_image, _parameters, _repository
    from argoexec.config import executor_env
    from argoexec.contract import LOCAL_RUNTIME

    runtime = getattr(args, "runtime", None) or LOCAL_RUNTIME
    args.runtime = runtime
    options = RunOptions(
        artifact_repository=_repository(
            getattr(args, "artifact_repository", None), root / "artifacts"
        ),
        config_maps=docs.config_maps,
        parameters=_parameters(getattr(args, "parameter", None) or []),
        secrets_dir=getattr(args, "secrets_dir", None),
        executor_image=_executor_image(args),
        runtime=runtime,
        namespace=str((cron.get("metadata") or {}).get("namespace") or "default"),
        executor_env=executor_env(inv.config.environ),
        max_output_parameters_bytes=inv.config.max_output_parameters_bytes,
    )
    sandbox = not getattr(args, "no_sandbox", False)
    return RunConfig.of(options, sandbox=sandbox, templates=docs.templates)


def create(args: argparse.Namespace, inv: Invocation) -> int:
    root = state_store(args, inv, mode="create").root
    templates = list(getattr(args, "templates", []) or [])
    cron, documents = _one_cron(Path(args.file), templates, inv.stderr)
    crons = LocalCrons(root)
    name = str(cron["metadata"]["name"])
    if name in crons.names():
        raise StateError(f"CronWorkflow {name!r} already exists here (delete it first)")
    crons.put(cron, _config(args, inv, root, documents, cron))
    inv.stdout.write(f"cronworkflow {name} created\n")
    return 0


def _age(created: object, now: float) -> str:
    at = epoch(created)
    return "-" if at is None else age(now - at)


def list_crons(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo cron list`'s columns (times in one unit, as its `RelativeDurationShort`)."""
    crons = LocalCrons(state_store(args, inv).root)
    now = time.time()
    rows = [("NAME", "LAST RUN", "NEXT RUN", "SCHEDULES", "TIMEZONE", "SUSPENDED")]
    for name in crons.names():
        cron = crons.get(name)
        spec, status = cron.get("spec") or {}, cron.get("status") or {}
        schedules = schedules_of(spec)
        try:
            upcoming = next_of(schedules, zone_of(spec.get("timezone")), now)
        except (ValueError, KeyError):
            upcoming = None
        rows.append((
            name,
            _age(status.get("lastScheduledTime"), now),
            age(upcoming - now) if upcoming is not None else "-",
            ",".join(schedules),
            str(spec.get("timezone") or ""),
            "true" if spec.get("suspend") else "false",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        inv.stdout.write("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        inv.stdout.write("\n")
    return 0


def get(args: argparse.Namespace, inv: Invocation) -> int:
    cron = LocalCrons(state_store(args, inv).root).get(args.name)
    inv.stdout.write(json.dumps(cron, indent=2, sort_keys=True) + "\n")
    return 0


def delete(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo cron delete`: the CronWorkflow goes; its runs stay (their own `delete`)."""
    LocalCrons(state_store(args, inv, mode="write").root).delete(args.name)
    inv.stdout.write(f"cronworkflow {args.name} deleted\n")
    return 0


def _set_suspend(args: argparse.Namespace, inv: Invocation, value: bool) -> int:
    crons = LocalCrons(state_store(args, inv, mode="write").root)
    cron = crons.get(args.name)
    cron.setdefault("spec", {})["suspend"] = value
    crons.put(cron)
    inv.stdout.write(f"cronworkflow {args.name} {'suspended' if value else 'resumed'}\n")
    return 0


def suspend(args: argparse.Namespace, inv: Invocation) -> int:
    return _set_suspend(args, inv, True)


def resume(args: argparse.Namespace, inv: Invocation) -> int:
    return _set_suspend(args, inv, False)


class CronDirectory:
    """`argoexec controller --cron-dir DIR`: every CronWorkflow file of DIR (`*.yaml`, `*.yml`,
    `*.json`) stored as `cron create` stores it; a file changed since updates the stored spec
    (the status stays); a file that cannot be read is skipped, with a warning each time it
    changes."""

    def __init__(self, path: Path, root: Path, args: argparse.Namespace, inv: Invocation) -> None:
        self.path, self.root, self.args, self.inv = path, root, args, inv
        self.crons = LocalCrons(root)
        self._seen: dict[Path, float] = {}
        self._scanned = 0.0

    def sync(self) -> None:
        if time.monotonic() - self._scanned < CRON_DIR_SCAN_INTERVAL:
            return
        self._scanned = time.monotonic()
        files = sorted(
            p for p in self.path.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
        )
        for file in files:
            mtime = file.stat().st_mtime
            if self._seen.get(file) == mtime:
                continue
            self._seen[file] = mtime
            try:
                self._store(file)
            except (UsageError, StateError) as exc:
                log.warning("--cron-dir %s: %s", file, exc)

    def _store(self, file: Path) -> None:
        cron, documents = _one_cron(file, [], self.inv.stderr)
        name = str(cron["metadata"]["name"])
        if name in self.crons.names():
            stored = self.crons.get(name)
            cron["status"] = stored.get("status") or {}
        self.crons.put(cron, _config(self.args, self.inv, self.root, documents, cron))


class _Ticks:
    def __init__(self, scheduler: LocalScheduler, directory: CronDirectory | None) -> None:
        self.scheduler, self.directory = scheduler, directory

    def tick(self) -> None:
        if self.directory is not None:
            self.directory.sync()
        self.scheduler.tick()

    def close(self) -> None:
        self.scheduler.close()


def scheduler_for(root: Path, args: argparse.Namespace, inv: Invocation) -> _Ticks:
    """The controller's CronWorkflow scheduler (and TTL sweeper) for the state directory."""
    given = getattr(args, "cron_dir", None)
    directory = None
    if given:
        path = Path(given)
        if not path.is_dir():
            raise UsageError(f"--cron-dir {given}: not a directory")
        directory = CronDirectory(path, root, args, inv)
    return _Ticks(LocalScheduler(root), directory)
