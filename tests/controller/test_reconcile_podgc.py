"""Pod garbage collection's label selectors (Kubernetes' LabelSelector semantics)."""

from __future__ import annotations

from argoexec.controller.reconcile.podgc import selects


def test_no_selector_selects_every_pod() -> None:
    assert selects(None, {}) and selects({}, {"a": "b"})


def test_match_labels_must_all_hold() -> None:
    assert selects({"matchLabels": {"a": "1", "b": "2"}}, {"a": "1", "b": "2", "c": "3"})
    assert not selects({"matchLabels": {"a": "1", "b": "2"}}, {"a": "1"})


def test_match_expressions_follow_kubernetes_operators() -> None:
    labels = {"tier": "web", "env": "prod"}

    def term(op: str, key: str, *values: str) -> dict[str, object]:
        return {"matchExpressions": [{"key": key, "operator": op, "values": list(values)}]}

    assert selects(term("In", "tier", "web", "db"), labels)
    assert not selects(term("In", "tier", "db"), labels)
    assert not selects(term("In", "missing", "x"), labels)
    assert selects(term("NotIn", "tier", "db"), labels)
    assert selects(term("NotIn", "missing", "x"), labels)
    assert not selects(term("NotIn", "env", "prod"), labels)
    assert selects(term("Exists", "env"), labels) and not selects(term("Exists", "x"), labels)
    assert selects(term("DoesNotExist", "x"), labels)
    assert not selects(term("DoesNotExist", "env"), labels)
    assert not selects(term("Bogus", "env"), labels)
