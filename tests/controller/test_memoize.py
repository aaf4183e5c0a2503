"""`memoize` on the reconciler, pass by pass: the pass reads the caches through the view it is
given and asks for entries to be saved (`SaveCacheEntry`); `MemoryCaches` carries them out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from argoexec.controller.loop.caches import MemoryCaches
from argoexec.controller.loop.seams import Observed
from argoexec.controller.reconcile import CreatePod, Outcome, SaveCacheEntry, Settings, reconcile
from argoexec.controller.reconcile.clock import epoch
from argoexec.durations import rfc3339
from tests.controller.reconcile_double import Cluster, nodes_by_name, workflow

T0 = epoch("2026-01-01T00:00:10Z") or 0.0
LABELS = {"workflows.argoproj.io/configmap-type": "Cache"}


def greet(memoize: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": "greet",
        "inputs": {"parameters": [{"name": "m"}]},
        "memoize": memoize
        or {
            "key": "k-{{inputs.parameters.m}}",
            "maxAge": "10s",
            "cache": {"configMap": {"name": "greetings"}},
        },
        "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.m}}"]},
        "outputs": {"parameters": [{"name": "line", "valueFrom": {"path": "/tmp/line"}}]},
        **extra,
    }


def spec_of(*templates: dict[str, Any], m: str = "hi") -> dict[str, Any]:
    return {
        "entrypoint": "greet",
        "arguments": {"parameters": [{"name": "m", "value": m}]},
        "templates": list(templates),
    }


OUTPUTS = {
    "parameters": [{"name": "line", "value": "hi there", "valueFrom": {"path": "/tmp/line"}}],
    "result": "hi there",
    "exitCode": "0",
}


class Caching(Cluster):
    """Pods as `Cluster` keeps them, and the caches a loop would keep: each pass sees a new
    view, its `SaveCacheEntry` actions are carried out after it."""

    def __init__(self, caches: MemoryCaches | None = None) -> None:
        super().__init__()
        self.caches = caches or MemoryCaches()
        self.saves: list[SaveCacheEntry] = []

    def observed(self) -> Observed:
        return Observed(pods=dict(self.pods), caches=self.caches.view("default"))

    def apply(self, outcome: Outcome) -> None:
        super().apply(outcome)
        for action in outcome.actions:
            if isinstance(action, SaveCacheEntry):
                self.saves.append(action)
                self.caches.save(
                    action.namespace, action.config_map, action.key, action.entry, hit=action.hit
                )


def run(wf: dict[str, Any], cluster: Caching, now: float) -> Outcome:
    outcome = reconcile(wf, cluster.observed(), now, Settings())
    cluster.apply(outcome)
    return outcome


def entry(outputs: dict[str, Any], created: float, node: str = "old-run-1") -> str:
    moment = rfc3339(created)
    return json.dumps(
        {
            "nodeID": node,
            "outputs": outputs,
            "creationTimestamp": moment,
            "lastHitTimestamp": moment,
        }
    )


def seeded(data: dict[str, str], labels: dict[str, str] | None = None) -> MemoryCaches:
    caches = MemoryCaches()
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "greetings",
            "namespace": "default",
            "labels": LABELS if labels is None else labels,
        },
        "data": data,
    }
    caches._maps[("default", "greetings")] = config_map
    return caches


def cached(caches: MemoryCaches, key: str) -> dict[str, Any]:
    found = caches.view("default")["greetings"]
    return dict(json.loads(found["data"][key]))


def test_a_miss_runs_the_node_and_saves_its_outputs_once_it_succeeded() -> None:
    wf, cluster = workflow(spec_of(greet())), Caching()
    first = run(wf, cluster, T0)
    node = nodes_by_name(wf)["wf"]
    assert node["memoizationStatus"] == {"hit": False, "key": "k-hi", "cacheName": "greetings"}
    assert [a for a in first.actions if isinstance(a, CreatePod)]
    assert not cluster.saves  # nothing is saved before the node succeeded
    run(wf, cluster, T0 + 1)
    cluster.end("wf", outputs={k: v for k, v in OUTPUTS.items() if k != "exitCode"})
    done = run(wf, cluster, T0 + 2)
    assert done.finished and wf["status"]["phase"] == "Succeeded"
    [save] = cluster.saves
    assert (save.namespace, save.config_map, save.key, save.hit) == (
        "default",
        "greetings",
        "k-hi",
        False,
    )
    saved = cached(cluster.caches, "k-hi")
    assert list(saved) == ["nodeID", "outputs", "creationTimestamp", "lastHitTimestamp"]
    assert saved["nodeID"] == node["id"]
    assert saved["outputs"] == OUTPUTS
    assert saved["creationTimestamp"] == saved["lastHitTimestamp"] == "2026-01-01T00:00:12Z"
    config_map = cluster.caches.view("default")["greetings"]
    assert config_map["metadata"]["labels"] == LABELS
    again = run(wf, cluster, T0 + 3)
    assert not again.actions and len(cluster.saves) == 1  # held: not asked for again


def test_a_hit_succeeds_at_once_with_the_cached_outputs_and_no_pod() -> None:
    caches = seeded({"k-hi": entry(OUTPUTS, T0 - 5)})
    wf, cluster = workflow(spec_of(greet())), Caching(caches)
    outcome = run(wf, cluster, T0)
    node = nodes_by_name(wf)["wf"]
    assert not [a for a in outcome.actions if isinstance(a, CreatePod)]
    assert not cluster.created
    assert node["phase"] == "Succeeded" and node["type"] == "Pod"
    assert node["outputs"] == OUTPUTS  # result and parameters restored
    assert node["memoizationStatus"] == {"hit": True, "key": "k-hi", "cacheName": "greetings"}
    assert wf["status"]["phase"] == "Succeeded"
    # Argo's Load moves lastHitTimestamp on; the entry is otherwise the old run's.
    touched = cached(caches, "k-hi")
    assert touched["lastHitTimestamp"] == "2026-01-01T00:00:10Z"
    assert touched["creationTimestamp"] == rfc3339(T0 - 5)
    assert touched["nodeID"] == "old-run-1"


def test_an_entry_older_than_max_age_is_a_miss_and_is_replaced() -> None:
    caches = seeded({"k-hi": entry(OUTPUTS, T0 - 11)})
    wf, cluster = workflow(spec_of(greet())), Caching(caches)
    run(wf, cluster, T0)
    node = nodes_by_name(wf)["wf"]
    assert node["memoizationStatus"]["hit"] is False
    assert cluster.created
    cluster.end("wf", outputs={"result": "fresh"})
    run(wf, cluster, T0 + 1)
    assert cached(caches, "k-hi")["nodeID"] == node["id"]
    assert cached(caches, "k-hi")["outputs"]["result"] == "fresh"


def test_without_max_age_any_entry_is_a_hit() -> None:
    memo = {"key": "k-{{inputs.parameters.m}}", "cache": {"configMap": {"name": "greetings"}}}
    caches = seeded({"k-hi": entry(OUTPUTS, T0 - 10**8)})
    wf, cluster = workflow(spec_of(greet(memo))), Caching(caches)
    run(wf, cluster, T0)
    assert nodes_by_name(wf)["wf"]["memoizationStatus"]["hit"] is True


def test_the_key_is_substituted_with_the_templates_inputs() -> None:
    caches = seeded({"k-hi": entry(OUTPUTS, T0 - 1)})
    wf, cluster = workflow(spec_of(greet(), m="other")), Caching(caches)
    run(wf, cluster, T0)
    status = nodes_by_name(wf)["wf"]["memoizationStatus"]
    assert status == {"hit": False, "key": "k-other", "cacheName": "greetings"}


def test_a_node_that_does_not_succeed_is_not_saved() -> None:
    wf, cluster = workflow(spec_of(greet())), Caching()
    run(wf, cluster, T0)
    cluster.end("wf", 1)
    run(wf, cluster, T0 + 1)
    assert wf["status"]["phase"] == "Failed"
    assert not cluster.saves
    assert "greetings" not in cluster.caches.view("default")


def test_a_save_the_loop_never_carried_out_is_asked_for_again() -> None:
    """A controller that stored the status and died before saving (or a save that failed):
    while the workflow runs, each pass asks, from the stored status alone, until the cache
    holds the entry."""
    steps = {
        "name": "main",
        "steps": [[{"name": "a", "template": "greet"}], [{"name": "b", "template": "slow"}]],
    }
    slow = {"name": "slow", "container": {"image": "alpine", "command": ["sleep", "9"]}}
    spec = {
        "entrypoint": "main",
        "templates": [steps, greet(inputs={"parameters": [{"name": "m", "value": "hi"}]}), slow],
    }
    wf, cluster = workflow(spec), Caching()
    run(wf, cluster, T0)
    a_id = nodes_by_name(wf)["wf[0].a"]["id"]
    cluster.end(a_id, outputs={"result": "hi"})
    lost = reconcile(wf, cluster.observed(), T0 + 1, Settings())  # its actions are lost
    assert [a for a in lost.actions if isinstance(a, SaveCacheEntry)]
    assert nodes_by_name(wf)["wf[0].a"]["phase"] == "Succeeded"
    retried = run(wf, cluster, T0 + 2)
    [save] = [a for a in retried.actions if isinstance(a, SaveCacheEntry)]
    assert save.entry["nodeID"] == a_id
    assert cached(cluster.caches, "k-hi")["nodeID"] == a_id
    assert not [a for a in run(wf, cluster, T0 + 3).actions if isinstance(a, SaveCacheEntry)]


def test_a_later_step_with_the_same_key_hits_the_entry_of_an_earlier_one() -> None:
    steps = {
        "name": "main",
        "steps": [
            [
                {
                    "name": "a",
                    "template": "greet",
                    "arguments": {"parameters": [{"name": "m", "value": "x"}]},
                }
            ],
            [
                {
                    "name": "b",
                    "template": "greet",
                    "arguments": {"parameters": [{"name": "m", "value": "x"}]},
                }
            ],
        ],
    }
    wf, cluster = workflow({"entrypoint": "main", "templates": [steps, greet()]}), Caching()
    run(wf, cluster, T0)
    a = nodes_by_name(wf)["wf[0].a"]
    cluster.end(a["id"], outputs={"result": "from a"})
    run(wf, cluster, T0 + 1)  # a succeeds, b starts in the same pass: its entry is a's
    b = nodes_by_name(wf)["wf[1].b"]
    assert b["memoizationStatus"] == {"hit": True, "key": "k-x", "cacheName": "greetings"}
    assert b["outputs"]["result"] == "from a"
    assert len(cluster.created) == 1
    assert wf["status"]["phase"] == "Succeeded"


def test_a_memoized_steps_template_hit_runs_none_of_its_steps() -> None:
    main = {
        "name": "main",
        "memoize": {"key": "whole", "maxAge": "1h", "cache": {"configMap": {"name": "greetings"}}},
        "steps": [[{"name": "a", "template": "plain"}]],
    }
    plain = {"name": "plain", "container": {"image": "alpine", "command": ["true"]}}
    caches = seeded({"whole": entry({"parameters": [{"name": "p", "value": "1"}]}, T0 - 1)})
    wf, cluster = workflow({"entrypoint": "main", "templates": [main, plain]}), Caching(caches)
    run(wf, cluster, T0)
    assert list(nodes_by_name(wf)) == ["wf"]
    node = nodes_by_name(wf)["wf"]
    assert node["type"] == "Steps" and node["phase"] == "Succeeded"
    assert node["outputs"] == {"parameters": [{"name": "p", "value": "1"}]}


@pytest.mark.parametrize(
    ("memoize", "data", "labels", "message"),
    [
        ({"key": "a b", "maxAge": "1s"}, {}, None, "invalid cache key: a b"),
        ({"key": "-x", "maxAge": "1s"}, {}, None, "invalid cache key: -x"),
        (
            {"key": "k", "maxAge": "10"},
            {},
            None,
            'invalid maxAge: time: missing unit in duration "10"',
        ),
        ({"key": "k", "maxAge": "soon"}, {}, None, 'invalid maxAge: time: invalid duration "soon"'),
        (
            {"key": "k", "maxAge": "1s"},
            {},
            {},
            "memoization configmap doesn't have workflows.argoproj.io/configmap-type label, "
            "refusing to use it",
        ),
        (
            {"key": "k", "maxAge": "1s"},
            {},
            {"workflows.argoproj.io/configmap-type": "Other"},
            "memoization configmap doesn't have label workflows.argoproj.io/configmap-type = Cache,"
            " refusing to use it",
        ),
        (
            {"key": "k", "maxAge": "1s"},
            {"k": "{not json"},
            None,
            "malformed cache entry: could not unmarshal JSON; unable to parse: ",
        ),
        (
            {"key": "k", "maxAge": "1s"},
            {"k": 5},  # a hand-written cache file; a ConfigMap's values are strings
            None,
            "malformed cache entry: could not unmarshal JSON; unable to parse: not an object",
        ),
        (
            {"key": "k", "maxAge": "1s"},
            {"k": '{"nodeID": 7}'},
            None,
            "malformed cache entry: could not unmarshal JSON; Entry.nodeID is not a string",
        ),
        (
            {"key": "k"},
            {"k": '{"nodeID": "n", "outputs": {"parameters": 5}}'},
            None,
            "malformed cache entry: could not unmarshal JSON; Entry.outputs is not an Outputs "
            "object: parameters: Input should be a valid list",
        ),
    ],
)
def test_a_cache_that_cannot_be_used_errors_the_node_in_argos_words(
    memoize: dict[str, Any], data: dict[str, str], labels: dict[str, str] | None, message: str
) -> None:
    memo = {**memoize, "cache": {"configMap": {"name": "greetings"}}}
    wf, cluster = workflow(spec_of(greet(memo))), Caching(seeded(data, labels))
    run(wf, cluster, T0)
    node = nodes_by_name(wf)["wf"]
    assert node["phase"] == "Error"
    assert node["message"].startswith(message)
    assert not cluster.created


def test_a_config_map_name_no_api_server_accepts_errors_the_node_before_it_runs() -> None:
    memo = {"key": "k", "maxAge": "1s", "cache": {"configMap": {"name": "Bad_Name"}}}
    wf, cluster = workflow(spec_of(greet(memo))), Caching()
    run(wf, cluster, T0)
    node = nodes_by_name(wf)["wf"]
    assert node["phase"] == "Error"
    assert node["message"].startswith(
        'could not save to config map cache: ConfigMap "Bad_Name" is invalid: metadata.name: '
        'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
    )
    assert not cluster.created


def test_a_key_longer_than_a_config_map_data_key_errors_the_node_before_it_runs() -> None:
    key = "k" * 254
    memo = {"key": key, "maxAge": "1s", "cache": {"configMap": {"name": "greetings"}}}
    wf, cluster = workflow(spec_of(greet(memo))), Caching()
    run(wf, cluster, T0)
    node = nodes_by_name(wf)["wf"]
    assert node["phase"] == "Error"
    assert node["message"] == (
        f'could not save to config map cache: ConfigMap "greetings" is invalid: '
        f'data[{"k" * 40}...]: Invalid value: "{"k" * 40}...": must be no more than 253 '
        "characters"
    )
    assert not cluster.created


def test_a_hit_exports_the_global_outputs_of_its_template() -> None:
    template = greet()
    template["outputs"]["parameters"][0]["globalName"] = "greeting"
    caches = seeded({"k-hi": entry(OUTPUTS, T0 - 1)})
    wf, cluster = workflow(spec_of(template)), Caching(caches)
    run(wf, cluster, T0)
    assert wf["status"]["outputs"]["parameters"] == [{"name": "greeting", "value": "hi there"}]
