"""Syntax tree of expr-lang expressions (every node keeps its offset for error messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Ident(Node):
    name: str


@dataclass(frozen=True)
class Pointer(Node):
    """`#` (the current element of a predicate), `#index`, `#acc`."""

    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Member(Node):
    obj: Node
    prop: Node
    optional: bool = False


@dataclass(frozen=True)
class Slice(Node):
    obj: Node
    start: Node | None
    end: Node | None


@dataclass(frozen=True)
class Call(Node):
    callee: Node
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Predicate(Node):
    body: Node


@dataclass(frozen=True)
class Builtin(Node):
    """A call of a closure-taking builtin (`filter`, `map`, `all`, ...)."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Conditional(Node):
    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class MapLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True)
class Chain(Node):
    """Boundary of an optional chain: `a?.b.c` yields nil as a whole when `a` is nil."""

    node: Node


@dataclass(frozen=True)
class Let(Node):
    name: str
    value: Node
    body: Node = field(compare=False)
