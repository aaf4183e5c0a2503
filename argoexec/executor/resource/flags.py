"""The kubectl-style ``resource.flags`` we honour without kubectl (argo-contract.md §6 step 6).

Argo hands ``flags`` to kubectl verbatim. We translate the ones that make sense for a single
object acted on through the REST API, and refuse anything else with a message listing what is
supported — a silently ignored flag would change what the step does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from argoexec.errors import ExecutorError

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_CASCADE = {
    "background": "Background",
    "true": "Background",
    "foreground": "Foreground",
    "orphan": "Orphan",
    "false": "Orphan",
}
_VALIDATE = {
    "strict": "Strict",
    "true": "Strict",
    "warn": "Warn",
    "ignore": "Ignore",
    "false": "Ignore",
}

SUPPORTED = (
    "-n/--namespace NS",
    "--ignore-not-found[=bool]",
    "--cascade[=background|foreground|orphan]",
    "--grace-period N",
    "--force[=bool]",
    "--wait[=bool]",
    "--server-side[=bool]",
    "--force-conflicts[=bool]",
    "--field-manager NAME",
    "--subresource NAME",
    "--dry-run=none|server",
    "--validate=strict|warn|ignore",
    "<type> <name> or <type>/<name> (the target object)",
)


@dataclass
class ResourceFlags:
    """What ``flags`` asked for; ``None`` means "not given" (the action's default applies)."""

    namespace: str | None = None
    ignore_not_found: bool | None = None  # None: the action's default (delete: true)
    propagation_policy: str | None = None  # DeleteOptions.propagationPolicy
    grace_period: int | None = None  # --grace-period as given
    force: bool = False  # --force: bypass graceful deletion
    wait: bool = True  # delete: wait until the object is gone (kubectl's default)
    field_manager: str | None = None
    force_conflicts: bool = True  # server-side apply takes over conflicting fields
    subresource: str | None = None
    dry_run: bool = False
    field_validation: str | None = None
    target_type: str | None = None
    target_name: str | None = None
    given: list[str] = field(default_factory=list)

    def grace_period_seconds(self) -> int | None:
        """DeleteOptions.gracePeriodSeconds as kubectl derives it: ``--force`` alone means 0, and
        ``--grace-period=0`` without ``--force`` becomes 1 (kubectl's guard against data loss)."""
        if self.force and (self.grace_period is None or self.grace_period < 0):
            return 0
        if self.grace_period == 0 and not self.force:
            return 1
        if self.grace_period is None or self.grace_period < 0:
            return None
        return self.grace_period

    def query(self) -> dict[str, str]:
        """Query parameters every write carries."""
        out: dict[str, str] = {}
        if self.dry_run:
            out["dryRun"] = "All"
        if self.field_validation:
            out["fieldValidation"] = self.field_validation
        return out


def _unsupported(flag: str, why: str = "") -> ExecutorError:
    reason = f": {why}" if why else ""
    return ExecutorError(
        f"resource flag {flag!r} is not supported{reason}; supported flags: {', '.join(SUPPORTED)}"
    )


def _bool(flag: str, value: str | None) -> bool:
    if value is None or value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _unsupported(f"{flag}={value}", "expected true or false")


def _choice(flag: str, value: str, choices: dict[str, str]) -> str:
    try:
        return choices[value.lower()]
    except KeyError:
        raise _unsupported(f"{flag}={value}", f"expected one of {', '.join(choices)}") from None


class _Reader:
    def __init__(self, flags: list[str]) -> None:
        self.flags = flags
        self.pos = 0

    def value(self, flag: str, inline: str | None) -> str:
        """``--flag=value`` or ``--flag value``."""
        if inline is not None:
            return inline
        if self.pos >= len(self.flags):
            raise ExecutorError(f"resource flag {flag} needs a value")
        self.pos += 1
        return self.flags[self.pos - 1]


def parse_flags(flags: list[str] | None) -> ResourceFlags:
    """Translate ``flags``; unknown ones raise an ``ExecutorError`` listing what is supported."""
    out = ResourceFlags(given=list(flags or []))
    reader = _Reader(out.given)
    positional: list[str] = []
    while reader.pos < len(reader.flags):
        arg = reader.flags[reader.pos]
        reader.pos += 1
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        _apply(out, reader, arg)
    _target(out, positional)
    return out


def _grace(out: ResourceFlags, name: str, text: str) -> None:
    try:
        out.grace_period = int(text)
    except ValueError:
        raise _unsupported(f"{name}={text}", "expected whole seconds") from None


def _server_side(out: ResourceFlags, name: str, inline: str | None) -> None:
    if not _bool(name, inline):
        raise _unsupported(f"{name}={inline}", "apply is always server-side here")


def _dry_run(out: ResourceFlags, name: str, inline: str | None) -> None:
    mode = (inline or "none").lower()
    if mode not in ("none", "server"):
        raise _unsupported(f"{name}={mode}", "only server-side dry runs are possible")
    out.dry_run = mode == "server"


Handler = Callable[[ResourceFlags, str, str | None], None]
# Flags without a value of their own: ``--flag`` or ``--flag=value``.
_SWITCHES: dict[str, Handler] = {
    "--ignore-not-found": lambda o, n, v: setattr(o, "ignore_not_found", _bool(n, v)),
    "--cascade": lambda o, n, v: setattr(
        o, "propagation_policy", _choice(n, v or "background", _CASCADE)
    ),
    "--force": lambda o, n, v: setattr(o, "force", _bool(n, v)),
    "--wait": lambda o, n, v: setattr(o, "wait", _bool(n, v)),
    "--server-side": _server_side,
    "--force-conflicts": lambda o, n, v: setattr(o, "force_conflicts", _bool(n, v)),
    "--dry-run": _dry_run,
    "--validate": lambda o, n, v: setattr(
        o, "field_validation", _choice(n, v or "strict", _VALIDATE)
    ),
}
# Flags that take a value: ``--flag value`` or ``--flag=value``.
_OPTIONS: dict[str, Callable[[ResourceFlags, str, str], None]] = {
    "-n": lambda o, n, v: setattr(o, "namespace", v),
    "--namespace": lambda o, n, v: setattr(o, "namespace", v),
    "--grace-period": _grace,
    "--field-manager": lambda o, n, v: setattr(o, "field_manager", v),
    "--subresource": lambda o, n, v: setattr(o, "subresource", v),
}


def _apply(out: ResourceFlags, reader: _Reader, arg: str) -> None:
    name, eq, inline_value = arg.partition("=")
    inline = inline_value if eq else None
    if name.startswith("-n") and not name.startswith("--") and len(name) > 2:
        out.namespace = arg[2:]  # kubectl's -nNS
    elif name in _SWITCHES:
        _SWITCHES[name](out, name, inline)
    elif name in _OPTIONS:
        _OPTIONS[name](out, name, reader.value(name, inline))
    else:
        raise _unsupported(arg)


def _target(out: ResourceFlags, positional: list[str]) -> None:
    """``<type> <name>`` or ``<type>/<name>``: the object to act on, instead of the manifest's."""
    if not positional:
        return
    if len(positional) == 1 and "/" in positional[0]:
        out.target_type, _, out.target_name = positional[0].partition("/")
    elif len(positional) == 2 and "/" not in positional[0]:
        out.target_type, out.target_name = positional
    else:
        raise _unsupported(
            " ".join(positional), "name exactly one object, as '<type> <name>' or '<type>/<name>'"
        )
    if not out.target_type or not out.target_name:
        raise _unsupported(" ".join(positional), "both a type and a name are needed")
