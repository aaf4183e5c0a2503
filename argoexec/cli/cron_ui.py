"""``cron`` (the state directory's CronWorkflows, as ``argo cron``) and ``ui`` (a web view of
the workflows)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from argoexec import contract as c
from argoexec.cli.flags import global_flags, lazy, parameter_flag, port


def add_ui_command(sub: Any) -> None:
    ui = sub.add_parser(
        "ui", help="serve a web view of the workflows (list, graph, logs, artifacts)",
        allow_abbrev=False,
    )  # fmt: skip
    global_flags(ui, suppress=True)
    ui.add_argument("--state-dir", metavar="DIR", help=f"default: ${c.ENV_STATE_DIR}")
    ui.add_argument("--port", type=port, default=2746, metavar="N", help="default: 2746 (0: any)")
    ui.add_argument(
        "--address", default="127.0.0.1", metavar="ADDR",
        help="default: 127.0.0.1; an address that is not loopback requires the token printed "
        "at start",
    )  # fmt: skip
    ui.set_defaults(run=lazy("argoexec.commands.ui", "ui"), command="ui")


_CRON_COMMANDS = (
    ("create", "store a CronWorkflow for `argoexec controller` to schedule"),
    ("list", "list the CronWorkflows"),
    ("get", "show a CronWorkflow (JSON, with its status)"),
    ("delete", "delete a CronWorkflow (its runs stay)"),
    ("suspend", "stop scheduling a CronWorkflow"),
    ("resume", "schedule a suspended CronWorkflow again"),
)


def add_cron_command(sub: Any, argv: Sequence[str] | None) -> None:
    """``cron``: the state directory's CronWorkflows (as ``argo cron``)."""
    cron = sub.add_parser("cron", help="manage CronWorkflows (argo cron)", allow_abbrev=False)
    leaves = cron.add_subparsers(metavar="COMMAND", required=True)
    for name, help_text in _CRON_COMMANDS:
        function = "list_crons" if name == "list" else name
        leaf = leaves.add_parser(name, help=help_text, allow_abbrev=False)
        leaf.set_defaults(run=lazy("argoexec.commands.cron", function), command=f"cron {name}")
        if argv is not None and "cron" not in argv:
            continue
        global_flags(leaf, suppress=True)
        leaf.add_argument("--state-dir", metavar="DIR", help=f"default: ${c.ENV_STATE_DIR}")
        if name == "create":
            _cron_create_flags(leaf)
        elif name != "list":
            leaf.add_argument("name", metavar="NAME", help="the CronWorkflow's name")


def _cron_create_flags(leaf: argparse.ArgumentParser) -> None:
    """The options of the runs, as `run` takes them."""
    leaf.add_argument("file", metavar="FILE", help="a CronWorkflow YAML (one document)")
    parameter_flag(leaf, None)
    leaf.add_argument("--runtime", choices=c.RUNTIMES, default=c.LOCAL_RUNTIME)
    leaf.add_argument("--executor-image", metavar="IMAGE")
    leaf.add_argument("--artifact-repository", type=Path, metavar="FILE")
    leaf.add_argument("--templates", action="append", default=[], type=Path, metavar="PATH")
    leaf.add_argument("--secrets-dir", type=Path, metavar="DIR")
    leaf.add_argument("--no-sandbox", action="store_true", help="run containers without bubblewrap")
