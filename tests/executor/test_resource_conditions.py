"""Resource success/failure conditions and self links (contract §6, upstream resource_test.go)."""

from __future__ import annotations

import pytest

from argoexec.executor.resource.conditions import ConditionError, evaluate, lookup, parse
from argoexec.executor.resource.identity import ResourceRef, plural

JOB = {
    "metadata": {"name": "j", "labels": {"app": "web"}},
    "status": {"phase": "Running", "succeeded": 2, "active": True},
    "items": [{"key": "foo"}, {"key": "bar"}],
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("status.phase == Running", True),
        ("status.phase = Running", True),
        ("status.phase != Running", False),
        ("status.phase in (Pending,Running)", True),
        ("status.phase notin (Pending,Running)", False),
        ("status.succeeded > 1", True),
        ("status.succeeded < 2", False),
        ("status.succeeded == 2", True),
        ("status.active == true", True),
        ("status.phase", True),
        ("!status.phase", False),
        ("status.missing != x", True),
        ("status.missing notin (x)", True),
        ("!status.missing", True),
        ("status.missing == x", False),
        ("status.missing", False),
        ("status.phase > 1", False),
        ("items.1.key == bar", True),
        ("items.# == 2", True),
        ("metadata.labels.app == web, status.succeeded > 1", True),
        ("metadata.labels.app == web, status.succeeded > 5", False),
    ],
)
def test_selectors_match_like_kubernetes_label_selectors_over_json_paths(
    selector: str, expected: bool
) -> None:
    reqs = parse(selector)
    assert all(r.matches(JOB) for r in reqs) is expected


@pytest.mark.parametrize("selector", ["status.phase == !!", "a > b", "x in ()", "== v"])
def test_malformed_conditions_are_rejected(selector: str) -> None:
    with pytest.raises(ConditionError):
        parse(selector)


def test_a_matching_failure_condition_fails_without_retry() -> None:
    verdict = evaluate(
        {"status": {"phase": "Error"}},
        parse("status.phase == Succeeded"),
        parse("status.phase == Error"),
    )
    assert (verdict.done, verdict.failed) == (True, True)
    assert "failure condition 'status.phase=Error' evaluated true" in verdict.message


def test_a_matching_success_condition_succeeds() -> None:
    verdict = evaluate(
        {"status": {"phase": "Succeeded"}},
        parse("status.phase == Succeeded"),
        parse("status.phase == Error"),
    )
    assert (verdict.done, verdict.failed) == (True, False)


def test_neither_condition_matching_keeps_polling() -> None:
    verdict = evaluate(
        {"status": {"phase": "Pending"}},
        parse("status.phase == Succeeded"),
        parse("status.phase == Error"),
    )
    assert not verdict.done
    assert "Retrying" in verdict.message


def test_failure_requirements_are_each_checked_alone() -> None:
    verdict = evaluate({"a": "1", "b": "2"}, [], parse("a == 9, b == 2"))
    assert verdict.failed


def test_a_failure_only_condition_succeeds_on_the_first_clean_poll() -> None:
    verdict = evaluate({"status": {"failed": 0}}, [], parse("status.failed > 0"))
    assert (verdict.done, verdict.failed) == (True, False)


def test_an_escaped_dot_is_part_of_the_key() -> None:
    obj = {"metadata": {"annotations": {"example.com/x": "1"}}}
    assert lookup(obj, "metadata.annotations.example\\.com/x") == "1"


@pytest.mark.parametrize(
    ("api_version", "kind", "namespace", "link"),
    [
        ("v1", "Pod", "test-namespace", "api/v1/namespaces/test-namespace/pods/test-name"),
        (
            "test.group/v1",
            "TestKind",
            "test-namespace",
            "apis/test.group/v1/namespaces/test-namespace/testkinds/test-name",
        ),
        (
            "test.group/v1",
            "Duty",
            "test-namespace",
            "apis/test.group/v1/namespaces/test-namespace/duties/test-name",
        ),
        (
            "test.group/v1",
            "IngressGateway",
            "test-namespace",
            "apis/test.group/v1/namespaces/test-namespace/ingressgateways/test-name",
        ),
        ("v1", "Namespace", "", "api/v1/namespaces/test-name"),
    ],
)
def test_self_links_are_inferred_from_the_object(
    api_version: str, kind: str, namespace: str, link: str
) -> None:
    assert ResourceRef(api_version, kind, "test-name", namespace).self_link() == link


def test_identity_uses_kind_dot_group_slash_name() -> None:
    assert ResourceRef("v1", "Pod", "my-pod").identity == "pod./my-pod"
    assert ResourceRef("batch/v1", "Job", "j").identity == "job.batch/j"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("Pod", "pods"),
        ("Duty", "duties"),
        ("Ingress", "ingresses"),
        ("Day", "days"),
        ("Box", "boxes"),
    ],
)
def test_plurals_follow_english_rules(kind: str, expected: str) -> None:
    assert plural(kind) == expected
