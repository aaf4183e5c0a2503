"""Loop expansion of steps and DAG tasks: `withItems`, `withParam` and `withSequence`.

Mirrors Argo's `expandStep` / `expandTask` and `processItem`: each item becomes one child named
`<name>(<index>:<description>)`, where the description is the item itself for scalars,
`[a b]` for lists, and the map's `key:value` pairs sorted and comma-joined for maps
(`(1:os:debian,version:9.1)`). The child sees `{{item}}` (scalars as text; maps and lists as
JSON) and, for maps, `{{item.<key>}}`. A step with an empty `withItems` is not a loop (upstream
runs it once); an empty `withParam` list or `withSequence` count yields no children.

Bounds (ours; Argo has none): a loop of more than `max_items` items is refused before any item
is made (a `withSequence` count before its numbers exist), and `stopping` is asked between
items, so a stop request ends even a long expansion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from argoexec.contract import MAX_ITEMS_HINT
from argoexec.controller.expr.values import to_go_json

from .scope import Scope
from .substitute import child_location, substitute

_LOOP_FIELDS = ("withItems", "withParam", "withSequence")
# Why a run must stop now (a stop request, a deadline), or None.
Stopping = Callable[[], str | None]
_GO_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")


class LoopError(Exception):
    """A loop that cannot be expanded; `str()` names the place and the cause."""

    def __init__(self, reason: str, *, location: str = "") -> None:
        self.reason = reason
        self.location = location
        super().__init__(f"{location}: {reason}" if location else reason)


class LoopStoppedError(LoopError):
    """The run was stopped (or reached its deadline) while the loop was being expanded."""


class LoopItem(NamedTuple):
    value: Any
    """The item as decoded from YAML/JSON (sequence items are strings, as upstream)."""
    suffix: str
    """What Argo appends to the child's name, e.g. `(0:hello)`."""


def should_expand(step_or_task: Mapping[str, Any]) -> bool:
    """Whether Argo treats this step or task as a loop (a non-empty `withItems`, a `withParam`,
    or a `withSequence`)."""
    return bool(
        step_or_task.get("withItems")
        or step_or_task.get("withParam")
        or step_or_task.get("withSequence") is not None
    )


def expand_loop(
    step_or_task: Mapping[str, Any],
    scope: Scope,
    *,
    location: str = "",
    max_items: int = 0,
    stopping: Stopping | None = None,
) -> list[LoopItem]:
    """The items of a loop, each with the suffix its child node is named with. Loop fields are
    substituted with `scope` first (every tag must resolve). More than `max_items` items (0: no
    cap) is a `LoopError`; `stopping` saying why is a `LoopStoppedError`."""
    items = _items(step_or_task, scope, location, max_items)
    loop: list[LoopItem] = []
    for index, item in _checked(enumerate(items), stopping, location):
        loop.append(LoopItem(item, f"({index}:{describe_item(item)})"))
    return loop


def item_entries(item: Any) -> dict[str, str]:
    """The scope entries a loop child sees: `item`, plus `item.<key>` for map items."""
    if isinstance(item, Mapping):
        entries = {f"item.{key}": _text(value) for key, value in item.items()}
        entries["item"] = to_go_json(item)
        return entries
    return {"item": _text(item)}


def expand_step(
    step_or_task: Mapping[str, Any],
    scope: Scope,
    *,
    location: str = "",
    allow_unresolved: bool = True,
    max_items: int = 0,
    stopping: Stopping | None = None,
) -> list[dict[str, Any]]:
    """The children of a loop: copies of the step or task without its loop fields, renamed
    `name(i:desc)` and substituted with `item` entries over `scope`. Tags that are not about the
    item stay for later passes unless `allow_unresolved` is false. `max_items` and `stopping`
    bound the expansion as in `expand_loop`."""
    loop = expand_loop(
        step_or_task, scope, location=location, max_items=max_items, stopping=stopping
    )
    return [
        expand_child(
            step_or_task, item, scope, location=location, allow_unresolved=allow_unresolved
        )
        for item in _checked(iter(loop), stopping, location)
    ]


def expand_child(
    step_or_task: Mapping[str, Any],
    item: LoopItem,
    scope: Scope,
    *,
    location: str = "",
    allow_unresolved: bool = True,
) -> dict[str, Any]:
    """One child of a loop (see `expand_step`): the step without its loop fields, named
    `name(i:desc)`, substituted with the item's entries over `scope`."""
    body = {k: v for k, v in step_or_task.items() if k not in _LOOP_FIELDS}
    child_scope = scope.child(item_entries(item.value))
    child: dict[str, Any] = substitute(
        body, child_scope, allow_unresolved=allow_unresolved, location=location
    )
    child["name"] = f"{step_or_task.get('name', '')}{item.suffix}"
    return child


def describe_item(item: Any) -> str:
    """The description in a child's name (Go's `%v` of Argo's `Item`)."""
    if isinstance(item, Mapping):
        return ",".join(sorted(f"{key}:{_text(value)}" for key, value in item.items()))
    if isinstance(item, list):
        return "[" + " ".join(_text(value) for value in item) + "]"
    return _text(item)


def _text(value: Any) -> str:
    """Argo's `Item.String()`: strings unquoted, everything else as JSON."""
    return value if isinstance(value, str) else to_go_json(value)


def _checked(items: Iterator[Any], stopping: Stopping | None, location: str) -> Iterator[Any]:
    """`items`, asking `stopping` before each one."""
    for item in items:
        reason = stopping() if stopping is not None else None
        if reason:
            raise LoopStoppedError(reason, location=location)
        yield item


def check_count(kind: str, count: int, max_items: int, location: str) -> None:
    """Refuse a loop of more than `max_items` items (0: no cap), naming the loop and count."""
    if max_items and count > max_items:
        raise LoopError(
            f"{kind} expands to {count} items, more than the {max_items} children a node may "
            f"have ({MAX_ITEMS_HINT})",
            location=location,
        )


def _items(step: Mapping[str, Any], scope: Scope, location: str, max_items: int) -> Iterable[Any]:
    if step.get("withItems"):
        where = child_location(location, "withItems")
        raw = step["withItems"]
        if isinstance(raw, list):  # counted before anything is substituted
            check_count("withItems", len(raw), max_items, where)
        items = substitute(raw, scope, allow_unresolved=False, location=where)
        if not isinstance(items, list):
            raise LoopError("withItems must be a list", location=where)
        for index, item in enumerate(items):
            if item is None:
                raise LoopError(
                    f"withItems[{index}] expected string, number, list, or map. received: null",
                    location=where,
                )
        return items
    if step.get("withParam"):
        where = child_location(location, "withParam")
        items = _param_items(step["withParam"], scope, where)
        check_count("withParam", len(items), max_items, where)
        return items
    if step.get("withSequence") is not None:
        where = child_location(location, "withSequence")
        sequence = substitute(step["withSequence"], scope, allow_unresolved=False, location=where)
        return sequence_items(sequence, location=where, max_items=max_items)
    raise LoopError("not a loop: no withItems, withParam or withSequence", location=location)


def _param_items(raw: Any, scope: Scope, location: str) -> list[Any]:
    text = substitute(raw, scope, allow_unresolved=False, location=location)
    if not isinstance(text, str):
        text = json.dumps(text)
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise LoopError(
            f"withParam value could not be parsed as a JSON list: {text.strip()}: {exc}",
            location=location,
        ) from None
    if not isinstance(items, list):
        raise LoopError(
            f"withParam value could not be parsed as a JSON list: {text.strip()}",
            location=location,
        )
    return items


def _sequence_int(sequence: Mapping[str, Any], key: str, location: str) -> int | None:
    value = sequence.get(key)
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise LoopError(
            f"withSequence.{key} must be an integer, not {value!r}", location=location
        ) from None


def expand_sequence(
    sequence: Mapping[str, Any], *, location: str = "", max_items: int = 0
) -> list[str]:
    """Argo's `expandSequence`: `start` (default 0) to `end` inclusive, ascending or descending,
    or `count` numbers from `start`; each formatted with `format` (Go printf, default `%d`).
    More than `max_items` numbers (0: no cap) is refused before any is made."""
    return list(sequence_items(sequence, location=location, max_items=max_items))


def sequence_items(sequence: Any, *, location: str = "", max_items: int = 0) -> Iterator[str]:
    """`expand_sequence`, checked now and made one number at a time."""
    if not isinstance(sequence, Mapping):
        raise LoopError("withSequence must be a map (count, start, end, format)", location=location)
    start = _sequence_int(sequence, "start", location) or 0
    end = _sequence_int(sequence, "end", location)
    count = _sequence_int(sequence, "count", location)
    if end is not None and count is not None:
        raise LoopError(
            "only one of count or end can be defined in withSequence", location=location
        )
    if end is None:
        if count is None:
            raise LoopError(
                "neither end nor count was specified in withSequence", location=location
            )
        if count < 0:
            raise LoopError(f"withSequence.count must not be negative: {count}", location=location)
        if count == 0:
            return iter(())
        end = start + count - 1
    step = 1 if start <= end else -1
    check_count("withSequence", abs(end - start) + 1, max_items, location)
    fmt = str(sequence.get("format") or "%d")
    return (go_sprintf_int(fmt, number) for number in range(start, end + step, step))


def go_sprintf_int(fmt: str, number: int) -> str:
    """Go's `fmt.Sprintf(fmt, number)` for one integer argument: verbs `d v x X o O b c q s`
    with flags `-+# 0`, width and precision; a second verb reads `%!d(MISSING)`, as Go."""
    used = False

    def verb(match: re.Match[str]) -> str:
        nonlocal used
        flags, width, precision, letter = match.groups()
        if letter == "%":
            return "%"
        if used:
            return f"%!{letter}(MISSING)"
        used = True
        return _format_int(number, flags, width, precision, letter)

    return _GO_VERB.sub(verb, fmt)


# verb -> (prefix with `#`, Python format spec for the digits)
_BASES = {"d": ("", "d"), "v": ("", "d"), "x": ("0x", "x"), "X": ("0X", "X"), "o": ("0", "o")}
_BASES |= {"O": ("0o", "o"), "b": ("", "b")}


def _format_int(number: int, flags: str, width: str, precision: str | None, letter: str) -> str:
    if letter in ("s", "q"):
        return f"%!{letter}(int={number})"
    if letter == "c":
        return chr(number)
    if letter not in _BASES:
        return f"%!{letter}(int={number})"
    prefix, spec = _BASES[letter]
    digits = format(abs(number), spec)
    if precision is not None:
        digits = digits.zfill(int(precision))
    if "#" not in flags and letter != "O":
        prefix = ""
    sign = "-" if number < 0 else "+" if "+" in flags else " " if " " in flags else ""
    head = sign + prefix
    size = int(width or 0)
    if "-" in flags:
        return (head + digits).ljust(size)
    if "0" in flags and precision is None:
        return head + digits.zfill(size - len(head))
    return (head + digits).rjust(size)
