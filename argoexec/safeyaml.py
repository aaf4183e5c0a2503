"""Reading YAML that users wrote (workflows, parameter files, repository and location files,
manifests) the way Kubernetes' and Argo's Go reader (go-yaml, through sigs.k8s.io/yaml) reads
it, and no less safely.

* The safe loader only (no Python tags); libyaml's when PyYAML has it, which also refuses
  nesting deeper than 1000 levels.
* Timestamps stay strings: Go's YAML-to-JSON step keeps ``2024-01-01`` text.
* Aliases: PyYAML shares an aliased node instead of copying it, but whatever walks the result
  (lint, decoding, substitution, JSON) expands every alias, so a few hundred bytes of nested
  anchors ("billion laughs") would take minutes. go-yaml refuses such a document while decoding
  (``document contains excessive aliasing``, its fix for CVE-2019-11253): it counts every node it
  decodes and those it decodes through an alias, and fails once more than 100 came through
  aliases, more than 1000 were decoded, and the share through aliases exceeds what it allows at
  that size: 99% up to 400,000 nodes, falling linearly to 10% at 4,000,000. The same count is
  kept here, in the same order, before anything is built.
* An anchor whose value contains itself is refused, as go-yaml refuses it.
* Nesting: at most ``MAX_DEPTH`` levels of mappings and lists, aliases expanded. go-yaml allows
  10,000 and libyaml 1,000, but lint, decoding and the engine walk documents recursively and
  Python's stack holds a few hundred levels; real workflows nest a dozen or two.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "LimitError", "Loader", "check_limits", "composed", "load", "load_all"]

_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# go-yaml's thresholds (decode.go): at least this many nodes through aliases and in all before
# the share is checked, and the range over which the allowed share falls from 99% to 10%.
_MIN_ALIASED = 100
_MIN_DECODED = 1000
_RATIO_LOW = 400_000
_RATIO_HIGH = 4_000_000
MAX_DEPTH = 100


class Loader(_BASE):  # type: ignore[valid-type,misc]
    """The safe loader without the timestamp resolver."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class LimitError(yaml.MarkedYAMLError):
    """A document beyond what is read: aliases that expand too far, an anchor that contains
    itself, or nesting too deep; ``problem`` says which and ``problem_mark`` where reading
    stopped."""


def _allowed_share(decoded: int) -> float:
    """The share of decoded nodes that may come through aliases (go-yaml's rule)."""
    if decoded <= _RATIO_LOW:
        return 0.99
    if decoded >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []


class _Counter:
    """go-yaml's two counts, and its verdict after each node."""

    def __init__(self) -> None:
        self.decoded = 1  # the document node
        self.aliased = 0

    def count(self, node: yaml.Node, *, aliased: bool) -> None:
        self.decoded += 1
        self.aliased += aliased
        if (
            self.aliased > _MIN_ALIASED
            and self.decoded > _MIN_DECODED
            and self.aliased / self.decoded > _allowed_share(self.decoded)
        ):
            problem = (
                "document contains excessive aliasing: its aliases expand to"
                f" {self.aliased:,} of the first {self.decoded:,} values read"
                " (Argo's YAML reader refuses it too)"
            )
            raise LimitError(problem=problem, problem_mark=node.start_mark)


def check_limits(root: yaml.Node) -> None:
    """Raise `LimitError` if decoding ``root`` (a composed document) expands aliases more than
    go-yaml allows, if an anchor's value contains itself, or if it nests deeper than
    `MAX_DEPTH`. Walks the document in decoding order without recursion; a document without
    aliases costs one visit per node."""
    counter = _Counter()
    seen: set[int] = set()
    alias_edges: set[tuple[int, int]] = set()  # (parent, child index) written as an alias
    expanding: list[int] = []  # the aliased nodes being expanded, innermost last
    # (node, inside an alias, parent id, child index, first visit of the parent, depth), or
    # None to leave an expansion. On a parent's first visit a child already seen is an alias
    # (YAML defines an anchor before any alias of it); later visits read the edges recorded.
    stack: list[tuple[yaml.Node, bool, int, int, bool, int] | None] = [
        (root, False, 0, -1, False, 0)
    ]
    while stack:
        entry = stack.pop()
        if entry is None:
            expanding.pop()
            continue
        node, aliased, parent, index, parent_first, depth = entry
        if parent_first and id(node) in seen:
            alias_edges.add((parent, index))
        if alias_edges and (parent, index) in alias_edges:
            if id(node) in expanding:
                raise LimitError(
                    problem="an anchor's value contains an alias of itself",
                    problem_mark=node.start_mark,
                )
            counter.count(node, aliased=aliased)  # the alias itself, then what it stands for
            aliased = True
            expanding.append(id(node))
            stack.append(None)
        counter.count(node, aliased=aliased)
        first = id(node) not in seen
        seen.add(id(node))
        children = _children(node)
        if isinstance(node, yaml.CollectionNode):
            depth += 1
            if depth > MAX_DEPTH:
                problem = f"nested deeper than {MAX_DEPTH} levels of mappings and lists"
                raise LimitError(problem=problem, problem_mark=node.start_mark)
        for child_index in range(len(children) - 1, -1, -1):
            stack.append((children[child_index], aliased, id(node), child_index, first, depth))


def composed(loader: yaml.SafeLoader) -> Iterator[yaml.Node]:
    """Each document of ``loader``'s stream, composed and checked (:func:`check_limits`)."""
    try:
        while loader.check_node():  # (libyaml's get_node fails at the end of the stream)
            node = loader.get_node()
            if node is not None:
                check_limits(node)
                yield node
    except RecursionError:  # the pure-Python composer; libyaml stops at 1000 levels itself
        raise LimitError(problem=f"nested deeper than {MAX_DEPTH} levels") from None


def load_all(text: str) -> list[Any]:
    """Every document of ``text`` (``None`` for an empty one); raises `yaml.YAMLError` for YAML
    that does not parse or is beyond the limits above."""
    loader = Loader(text)
    try:
        return [loader.construct_document(node) for node in composed(loader)]
    finally:
        loader.dispose()


def load(text: str) -> Any:
    """The single document of ``text`` (``None`` if it is empty); as :func:`load_all`, and a
    `yaml.YAMLError` if there is more than one."""
    documents = load_all(text)
    if len(documents) > 1:
        raise yaml.YAMLError(f"expected a single document, found {len(documents)}")
    return documents[0] if documents else None
