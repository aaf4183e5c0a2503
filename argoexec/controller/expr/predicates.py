"""expr-lang's closure builtins: `all`, `any`, `none`, `one`, `filter`, `map`, `count`, ...

Each receives the collection and `run(frame)`, which evaluates the closure with `#` bound to
`frame.element` (`#index`, `#acc` likewise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import EvalError
from .operators import add
from .values import go_type, is_list, is_number, render_value


@dataclass(frozen=True)
class Frame:
    element: Any
    index: int
    acc: Any = None


Run = Callable[[Frame], Any]


def _items(collection: Any, name: str) -> list[Any]:
    if collection is None:
        return []
    if isinstance(collection, Mapping):
        return list(collection.values())
    if not is_list(collection):
        raise EvalError(f"{name}(): cannot iterate over {go_type(collection)}")
    return list(collection)


def _tests(collection: Any, run: Run, name: str) -> list[tuple[Any, bool]]:
    results = []
    for index, element in enumerate(_items(collection, name)):
        verdict = run(Frame(element, index))
        if not isinstance(verdict, bool):
            raise EvalError(f"{name}(): predicate should return bool, got {go_type(verdict)}")
        results.append((element, verdict))
    return results


def _lazy_tests(collection: Any, run: Run, name: str, indices: range | None = None) -> Any:
    items = _items(collection, name)
    for index in indices if indices is not None else range(len(items)):
        verdict = run(Frame(items[index], index))
        if not isinstance(verdict, bool):
            raise EvalError(f"{name}(): predicate should return bool, got {go_type(verdict)}")
        yield index, items[index], verdict


def _all(collection: Any, run: Run) -> bool:
    return all(v for _, _, v in _lazy_tests(collection, run, "all"))


def _any(collection: Any, run: Run) -> bool:
    return any(v for _, _, v in _lazy_tests(collection, run, "any"))


def _none(collection: Any, run: Run) -> bool:
    return not any(v for _, _, v in _lazy_tests(collection, run, "none"))


def _one(collection: Any, run: Run) -> bool:
    return sum(v for _, v in _tests(collection, run, "one")) == 1


def _filter(collection: Any, run: Run) -> list[Any]:
    return [element for element, keep in _tests(collection, run, "filter") if keep]


def _map(collection: Any, run: Run) -> list[Any]:
    return [run(Frame(e, i)) for i, e in enumerate(_items(collection, "map"))]


def _count(collection: Any, run: Run) -> int:
    return sum(1 for _, keep in _tests(collection, run, "count") if keep)


def _sum(collection: Any, run: Run) -> Any:
    total: Any = 0
    for index, element in enumerate(_items(collection, "sum")):
        value = run(Frame(element, index))
        if not is_number(value):
            raise EvalError(f"sum(): invalid operation on {go_type(value)}")
        total = add(total, value)
    return total


def _finder(name: str, *, last: bool, want_index: bool) -> Callable[[Any, Run], Any]:
    def find(collection: Any, run: Run) -> Any:
        size = len(_items(collection, name))
        order = range(size - 1, -1, -1) if last else range(size)
        for index, element, verdict in _lazy_tests(collection, run, name, order):
            if verdict:
                return index if want_index else element
        return -1 if want_index else None

    return find


def _group_by(collection: Any, run: Run) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for index, element in enumerate(_items(collection, "groupBy")):
        key = run(Frame(element, index))
        groups.setdefault(
            key if isinstance(key, str | int | float) else render_value(key), []
        ).append(element)
    return groups


def _sort_by(collection: Any, run: Run, order: str = "asc") -> list[Any]:
    if order not in ("asc", "desc"):
        raise EvalError(f"sortBy(): unknown order {order!r}, use asc or desc")
    items = _items(collection, "sortBy")
    keyed = [(run(Frame(e, i)), e) for i, e in enumerate(items)]
    try:
        keyed.sort(key=lambda pair: pair[0], reverse=order == "desc")
    except TypeError:
        raise EvalError("sortBy(): keys are not comparable") from None
    return [element for _, element in keyed]


_NO_INITIAL = object()


def _reduce(collection: Any, run: Run, initial: Any = _NO_INITIAL) -> Any:
    items = _items(collection, "reduce")
    if initial is _NO_INITIAL:
        if not items:
            raise EvalError("reduce(): reduce of empty array with no initial value")
        acc, start = items[0], 1
    else:
        acc, start = initial, 0
    for index in range(start, len(items)):
        acc = run(Frame(items[index], index, acc))
    return acc


PREDICATES: dict[str, Callable[..., Any]] = {
    "all": _all,
    "any": _any,
    "none": _none,
    "one": _one,
    "filter": _filter,
    "map": _map,
    "count": _count,
    "sum": _sum,
    "find": _finder("find", last=False, want_index=False),
    "findIndex": _finder("findIndex", last=False, want_index=True),
    "findLast": _finder("findLast", last=True, want_index=False),
    "findLastIndex": _finder("findLastIndex", last=True, want_index=True),
    "groupBy": _group_by,
    "sortBy": _sort_by,
    "reduce": _reduce,
}
