"""Argo's `jsonpath(json, path)`: the JSONPath dialect of Argo's expression helper.

Argo evaluates the path with `github.com/evilmonkeyinc/jsonpath`. Its syntax is the usual
one — `$`, `.name`, `['name']`, `[n]` (negative from the end), `[*]` / `.*`, `[a:b:step]`,
unions `[0,2]` / `['a','b']`, recursive descent `..`, filters `[?(...)]` with `@` and `$`,
comparisons, `&&`, `||`, `!` and regular expressions — and `python-jsonpath` parses it and
evaluates the selectors and filter expressions (imported on first use: it costs ~55 ms).

How results are put together is evilmonkeyinc's, kept here by hand:

* a path of names and indices only yields the value itself; a missing key or an index out
  of range is an error;
* any other path yields a list: a wildcard, slice, union or filter applies the rest of the
  path to each element it selects, skips the elements where that fails or gives null, and
  does not flatten what the rest gives (`$[*].tags[*]` is a list of lists);
* recursive descent flattens one level of what the rest of the path gives for each node;
* an index right after a filter picks from the filtered elements (`$[?(@.ok)][0]`);
* `.length` is the length of an array, object or string (an object's own `length` key wins);
* object members are visited in key order;
* a filter keeps an element when its expression is truthy (true, a non-zero number, a
  non-empty string, array or object), so `[?(@.enabled)]` tests the value, not existence;
  `<`, `<=`, `>`, `>=` compare numbers only; `=~` takes the pattern as a string
  (`@.name =~ 'web-.*'`) or `/.../`, and searches as Go's `regexp.MatchString` does.

Not supported (an error naming the path): arithmetic and script subscripts (`[(@.length-1)]`)
inside brackets.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import EvalError
from .values import go_type, is_list

if TYPE_CHECKING:
    from jsonpath import JSONPathEnvironment, JSONPathMatch
    from jsonpath.segments import JSONPathSegment


class _MissError(Exception):
    """The rest of the path does not apply to this node (Argo: the token's error)."""


def _sorted_keys(value: Any) -> Any:
    """The document with every object's members in key order (evilmonkeyinc sorts map keys)."""
    if isinstance(value, Mapping):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if is_list(value):
        return [_sorted_keys(v) for v in value]
    return value


def _truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str | Mapping) or is_list(value):
        return len(value) > 0
    if isinstance(value, int | float):
        return value != 0
    return bool(value)


@functools.cache
def _environment() -> JSONPathEnvironment:
    import jsonpath
    from jsonpath.filter import UNDEFINED

    class ArgoEnvironment(jsonpath.JSONPathEnvironment):
        """Filter semantics of Argo's JSONPath (see the module docstring)."""

        def is_truthy(self, obj: object) -> bool:
            if isinstance(obj, jsonpath.NodeList):
                obj = obj.values_or_singular() if obj else None
            return obj is not UNDEFINED and _truthy(obj)

        def compare(self, left: object, operator: str, right: object) -> bool:
            if operator in ("<", "<=", ">", ">="):
                numbers = all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)
                )
                return numbers and super().compare(left, operator, right)
            if operator == "=~" and isinstance(left, str):
                pattern = right if isinstance(right, re.Pattern) else None
                if isinstance(right, str):
                    try:
                        pattern = re.compile(right)
                    except re.error:
                        return False
                return pattern is not None and pattern.search(left) is not None
            return super().compare(left, operator, right)

    return ArgoEnvironment()


@functools.lru_cache(maxsize=256)
def _compile(path: str) -> tuple[JSONPathSegment, ...]:
    import jsonpath

    text = path.strip()
    if not text.startswith("$"):
        raise EvalError(f"jsonpath {path!r}: a path must start with '$'")
    try:
        compiled = _environment().compile(text)
    except jsonpath.JSONPathError as exc:
        raise EvalError(f"jsonpath {path!r}: {_reason(exc)}") from None
    if not isinstance(compiled, jsonpath.JSONPath):
        raise EvalError(f"jsonpath {path!r}: '|' and '&' between paths are not JSONPath")
    return tuple(compiled.segments)


def _reason(exc: Exception) -> str:
    # The library appends the offending line and a caret; the first line is the reason.
    return str(exc).splitlines()[0].removesuffix(":").strip() or type(exc).__name__


def query(document: Any, path: str) -> Any:
    """Evaluate `path` over a decoded JSON `document`, as Argo's `jsonpath()` does."""
    import jsonpath

    segments = _compile(path)
    data = _sorted_keys(document)
    root = jsonpath.JSONPathMatch(
        filter_context={}, obj=data, parent=None, path="$", parts=(), root=data
    )
    try:
        return _Evaluation(path).apply(segments, root)
    except _MissError as exc:
        raise EvalError(f"jsonpath {path!r}: {exc}") from None
    except jsonpath.JSONPathError as exc:
        raise EvalError(f"jsonpath {path!r}: {_reason(exc)}") from None


class _Evaluation:
    def __init__(self, path: str) -> None:
        self.path = path

    def apply(self, segments: Sequence[JSONPathSegment], node: JSONPathMatch) -> Any:
        if not segments:
            return node.obj
        from jsonpath.segments import JSONPathRecursiveDescentSegment

        segment, rest = segments[0], segments[1:]
        if isinstance(segment, JSONPathRecursiveDescentSegment):
            return self._descend(segment, rest, node)
        single = _single(segment)
        if single is not None:
            return self.apply(rest, single(node))
        return self._each(segment, rest, node)

    def _each(
        self, segment: JSONPathSegment, rest: Sequence[JSONPathSegment], node: JSONPathMatch
    ) -> Any:
        from jsonpath.selectors import Filter

        if not isinstance(node.obj, Mapping) and not is_list(node.obj):
            raise _MissError(f"cannot select {segment} from a {go_type(node.obj)}")
        elements = [m for selector in segment.selectors for m in selector.resolve(node)]
        is_filter = len(segment.selectors) == 1 and isinstance(segment.selectors[0], Filter)
        pick = _single(rest[0]) if is_filter and rest else None
        if pick is not None and _is_index(rest[0]):
            # evilmonkeyinc hands the filtered elements to a following index as one array.
            picked = pick(node.new_child([e.obj for e in elements], "?"))
            return self.apply(rest[1:], picked)
        if not rest:
            return [e.obj for e in elements]
        return [r for r in self._results(rest, elements) if r is not None]

    def _descend(
        self, segment: JSONPathSegment, rest: Sequence[JSONPathSegment], node: JSONPathMatch
    ) -> list[Any]:
        from jsonpath.segments import JSONPathChildSegment

        child = JSONPathChildSegment(
            env=segment.env, token=segment.token, selectors=segment.selectors
        )
        found: list[Any] = []
        for result in self._results([child, *rest], _visit(node)):
            if is_list(result):
                found.extend(result)
            elif result is not None:
                found.append(result)
        return found

    def _results(
        self, segments: Sequence[JSONPathSegment], nodes: Iterable[JSONPathMatch]
    ) -> Iterable[Any]:
        for node in nodes:
            try:
                yield self.apply(segments, node)
            except _MissError:
                continue


def _visit(node: JSONPathMatch) -> Iterable[JSONPathMatch]:
    """The node and all its descendants, depth first, members in key order."""
    yield node
    obj: Any = node.obj
    children: Iterable[tuple[str | int, Any]] = ()
    if isinstance(obj, Mapping):
        children = obj.items()
    elif is_list(obj):
        children = enumerate(obj)
    for key, value in children:
        yield from _visit(node.new_child(value, key))


def _is_index(segment: JSONPathSegment) -> bool:
    from jsonpath.selectors import IndexSelector

    return len(segment.selectors) == 1 and isinstance(segment.selectors[0], IndexSelector)


def _single(segment: JSONPathSegment) -> Callable[[JSONPathMatch], JSONPathMatch] | None:
    """For a segment of one name or one index: how it picks its one child (raising _MissError)."""
    from jsonpath.segments import JSONPathChildSegment
    from jsonpath.selectors import IndexSelector, NameSelector

    if not isinstance(segment, JSONPathChildSegment) or len(segment.selectors) != 1:
        return None
    selector = segment.selectors[0]
    if isinstance(selector, NameSelector):
        return functools.partial(_key, selector.name)
    if isinstance(selector, IndexSelector):
        return functools.partial(_index, selector.index)
    return None


def _key(name: str, node: JSONPathMatch) -> JSONPathMatch:
    obj: Any = node.obj
    if isinstance(obj, Mapping) and name in obj:
        return node.new_child(obj[name], name)
    if name == "length" and (isinstance(obj, str | Mapping) or is_list(obj)):
        return node.new_child(len(obj), name)
    if isinstance(obj, Mapping):
        raise _MissError(f"key {name!r} not found")
    raise _MissError(f"cannot get key {name!r} of a {go_type(obj)}")


def _index(index: int, node: JSONPathMatch) -> JSONPathMatch:
    obj: Any = node.obj
    if not is_list(obj):
        raise _MissError(f"cannot index a {go_type(obj)} with [{index}]")
    if not -len(obj) <= index < len(obj):
        raise _MissError(f"index {index} out of range (length {len(obj)})")
    return node.new_child(obj[index], index % len(obj))
