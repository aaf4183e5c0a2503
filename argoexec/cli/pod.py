"""The sub-commands of a workflow pod's containers (``init``, ``wait``, ``resource``, ``data``,
``agent``, ``emissary``, ``kill``, ``artifact``) and ``version``: the executor's own commands,
as the Argo controller writes them into the pods it builds."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from argoexec.cli.flags import global_flags, lazy

if TYPE_CHECKING:
    from argoexec.commands import Invocation


def add_pod_commands(sub: Any, argv: Sequence[str] | None) -> None:
    """``artifact``, ``version``, then the pod containers' commands, in the order ``--help``
    lists them. The ``artifact`` leaves (five parsers with some forty flags, a noticeable part of
    a pod container's start) only when the command line names them."""
    _artifact_commands(sub, leaves_too=argv is None or "artifact" in argv)
    version = _command(sub, "version", "print version information")
    version.add_argument("--short", action="store_true")
    version.add_argument("-o", "--output", choices=("text", "json"), default="text")
    _command(sub, "init", "prepare a workflow pod (init container)")
    _command(sub, "wait", "save and report a workflow pod's outputs (wait container)")
    resource = _command(
        sub,
        "resource",
        "act on a Kubernetes manifest and wait for its conditions (resource template)",
    )
    resource.add_argument(
        "action", metavar="ACTION", help="get, create, apply, replace, patch or delete"
    )
    data = _command(sub, "data", "list an artifact location and transform the list (data template)")
    data.add_argument("spec", metavar="DATA", nargs="?", help="the template's data, as JSON")
    agent = _command(
        sub, "agent", "run a workflow's http tasks from its WorkflowTaskSet (the agent pod)"
    )
    agent.add_argument("phase", metavar="PHASE", choices=("init", "main"), help="init or main")
    _emissary_command(sub)
    kill = _command(sub, "kill", "send signal SIGNAL to process PID")
    kill.add_argument("signal", metavar="SIGNAL", help="signal number, e.g. 15")
    kill.add_argument("pid", metavar="PID", help="process id, e.g. 1")


def _command(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A sub-command run by ``argoexec.commands.<name>.<name>``."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, allow_abbrev=False)
    global_flags(parser, suppress=True)
    parser.set_defaults(run=lazy(f"argoexec.commands.{name}", name), command=name)
    return parser


def _location_flags(parser: argparse.ArgumentParser) -> None:
    loc = parser.add_argument_group("location")
    loc.add_argument("paths", nargs="*", metavar="URL|PATH", help="location URL and/or local path")
    loc.add_argument("--artifact", metavar="LOC", help="artifact YAML/JSON: a file or inline")
    loc.add_argument("--url", help="location shorthand: s3://, gs://, git+https://, https://")
    loc.add_argument("--name", help="artifact name (default: from --artifact or the URL)")
    loc.add_argument("--repository", metavar="FILE", help="Argo artifact-repositories document")
    loc.add_argument("--repository-key", dest="repo_key", metavar="KEY")
    loc.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    loc.add_argument("--endpoint", metavar="HOST:PORT", help="S3 endpoint for s3:// URLs")
    loc.add_argument("--insecure", action="store_true", default=None, help="S3 over plain HTTP")
    loc.add_argument("--region")
    loc.add_argument("--access-key-secret", metavar="NAME/KEY")
    loc.add_argument("--secret-key-secret", metavar="NAME/KEY")
    sec = parser.add_argument_group("secrets")
    sec.add_argument("--secrets-dir", metavar="DIR", help="DIR/<secret name>/<key> files")
    sec.add_argument(
        "--secret", action="append", default=[], metavar="NAME/KEY=VALUE|@FILE|env:VAR"
    )


# name, help, module under argoexec.commands, function
_ARTIFACT_LEAVES = (
    ("put", "upload a file or directory", "artifact", "put"),
    ("get", "download (and unpack) an artifact", "artifact", "get"),
    ("ls", "list the keys under an artifact's key", "artifact", "ls"),
    ("rm", "delete an artifact", "artifact", "rm"),
    ("check", "dry run: credentials, existence, optional write probe", "artifact_check", "check"),
)


def _artifact_commands(sub: Any, *, leaves_too: bool) -> None:
    group = sub.add_parser("artifact", help="move artifacts to and from storage")
    global_flags(group, suppress=True)
    leaves = group.add_subparsers(metavar="COMMAND")
    if not leaves_too:
        return
    gc = leaves.add_parser(
        "delete",
        help="delete the artifacts of this artifact-GC pod's WorkflowArtifactGCTasks",
        allow_abbrev=False,
    )
    global_flags(gc, suppress=True)
    gc.set_defaults(
        run=lazy("argoexec.commands.artifact_delete", "delete"), command="artifact delete"
    )
    for name, help_text, module, func in _ARTIFACT_LEAVES:
        leaf = leaves.add_parser(name, help=help_text, allow_abbrev=False)
        global_flags(leaf, suppress=True)
        _location_flags(leaf)
        leaf.set_defaults(run=lazy(f"argoexec.commands.{module}", func), command=f"artifact {name}")
        if name in ("put", "get"):
            leaf.add_argument("-o", "--output", choices=("text", "json"), default="text")
        if name == "get":
            leaf.add_argument("--sha256", metavar="HEX", help="fail unless the bytes match")
        if name == "check":
            leaf.add_argument("--write-probe", action="store_true")


def _emissary_command(sub: Any) -> None:
    """``emissary``: listed, and its ``--help`` answered, here; running it never reaches the
    parser (:func:`argoexec.cli.main` hands its command line over untouched)."""
    from argoexec.emissary.usage import HELP

    usage, _, description = HELP.partition("\n\n")
    emissary = sub.add_parser(
        "emissary",
        help="run a user container's command as its PID 1 (argoexec emissary -- CMD ARGS...)",
        usage=usage.removeprefix("usage: "),
        description=description.strip(),
        allow_abbrev=False,
    )
    global_flags(emissary, suppress=True)
    emissary.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]", help="the command"
    )
    emissary.set_defaults(run=_misplaced_emissary_flags, command="emissary")


def _misplaced_emissary_flags(args: argparse.Namespace, inv: Invocation) -> int:
    from argoexec.commands import UsageError

    raise UsageError(
        "emissary: only --loglevel, --log-format and --gloglevel may come before `emissary`; "
        "write: argoexec emissary [FLAGS] -- CMD [ARGS...]"
    )
