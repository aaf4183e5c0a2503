"""`synchronization` in the reconciler: workflow- and template-level mutexes and ConfigMap
semaphores through a lock manager shared by several workflows (Argo's status fields, waiting
messages, release, priority, limits read on every ask, a restarted controller's rebuilt locks)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from argoexec.controller.loop.locks import MemoryLocks, stale_holder
from argoexec.controller.reconcile import Settings
from argoexec.controller.reconcile.locks import PENDING_EXPIRY, LockRequest, LockTable
from tests.controller.reconcile_double import Cluster, nodes_by_name, settle, step, workflow

ECHO = {"name": "echo", "container": {"image": "alpine", "command": ["true"]}}
MUTEX = "default/Mutex/test"
SEMAPHORE = "default/ConfigMap/my-config/workflow"


def wf_mutex(name: str, **spec: Any) -> dict[str, Any]:
    return workflow({"entrypoint": "echo", "templates": [ECHO],
                     "synchronization": {"mutexes": [{"name": "test"}]}, **spec}, name)  # fmt: skip


def wf_semaphore(name: str) -> dict[str, Any]:
    ref = {"configMapKeyRef": {"name": "my-config", "key": "workflow"}}
    return workflow({"entrypoint": "echo", "templates": [ECHO],
                     "synchronization": {"semaphores": [ref]}}, name)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings_with(locks: MemoryLocks, **config: str) -> Settings:
    return Settings(locks=locks, config_maps={"my-config": dict(config)})


def test_a_workflow_level_mutex_lets_one_workflow_run_and_keeps_the_other_pending() -> None:
    settings = settings_with(MemoryLocks())
    a, b = wf_mutex("a"), wf_mutex("b")
    pods_a, pods_b = Cluster(), Cluster()
    step(a, pods_a, 10.0, settings)
    outcome = step(b, pods_b, 10.0, settings)
    assert a["status"]["phase"] == "Running"
    assert a["status"]["synchronization"] == {
        "mutex": {"holding": [{"mutex": MUTEX, "holder": "default/a"}]}
    }
    assert b["status"]["phase"] == "Pending"
    assert b["status"]["message"] == f"Waiting for {MUTEX} lock. Lock status: 0/1"
    assert b["status"]["synchronization"] == {
        "mutex": {"waiting": [{"mutex": MUTEX, "holder": "default/a"}]}
    }
    assert b["status"]["startedAt"] is None and not pods_b.pods
    assert outcome.wake_at is not None and outcome.wake_at <= 11.0
    pods_a.end_all()
    settle(a, pods_a, 11.0, settings)
    assert a["status"]["phase"] == "Succeeded" and "synchronization" not in a["status"]
    settle(b, pods_b, 12.0, settings)
    assert b["status"]["phase"] == "Running" and "message" not in b["status"]
    assert b["status"]["synchronization"]["mutex"] == {
        "holding": [{"mutex": MUTEX, "holder": "default/b"}]
    }


def test_a_freed_lock_goes_to_the_highest_priority_then_the_oldest_workflow() -> None:
    settings = settings_with(MemoryLocks())
    holder, old, urgent = wf_mutex("holder"), wf_mutex("old"), wf_mutex("urgent", priority=5)
    old["metadata"]["creationTimestamp"] = "2025-01-01T00:00:00Z"  # older than `urgent`
    clusters = {name: Cluster() for name in ("holder", "old", "urgent")}
    for wf in (holder, old, urgent):
        step(wf, clusters[wf["metadata"]["name"]], 10.0, settings)
    clusters["holder"].end_all()
    settle(holder, clusters["holder"], 11.0, settings)
    step(old, clusters["old"], 12.0, settings)  # asks first, but `urgent` goes first
    step(urgent, clusters["urgent"], 12.0, settings)
    assert old["status"]["phase"] == "Pending"
    assert urgent["status"]["phase"] == "Running"


def test_a_semaphore_of_two_runs_two_of_three_workflows_and_a_raised_limit_takes_effect() -> None:
    locks = MemoryLocks()
    settings = settings_with(locks, workflow="2")
    wfs = [wf_semaphore(name) for name in ("one", "two", "three")]
    clusters = [Cluster() for _ in wfs]
    for wf, pods in zip(wfs, clusters, strict=True):
        step(wf, pods, 10.0, settings)
    assert [wf["status"]["phase"] for wf in wfs] == ["Running", "Running", "Pending"]
    assert wfs[2]["status"]["message"] == f"Waiting for {SEMAPHORE} lock. Lock status: 0/2"
    assert wfs[2]["status"]["synchronization"]["semaphore"]["waiting"] == [
        {"semaphore": SEMAPHORE, "holders": ["default/one", "default/two"]}
    ]
    assert wfs[0]["status"]["synchronization"]["semaphore"]["holding"] == [
        {"semaphore": SEMAPHORE, "holders": ["default/one"]}
    ]
    step(wfs[2], clusters[2], 11.0, replace(settings, config_maps={"my-config": {"workflow": "3"}}))
    assert wfs[2]["status"]["phase"] == "Running"


def test_a_semaphore_without_its_config_map_fails_the_workflow_naming_it() -> None:
    wf = wf_semaphore("lost")
    step(wf, Cluster(), 10.0, Settings(locks=MemoryLocks()))
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"].startswith(
        f"Failed to acquire the synchronization lock. failed to initialize semaphore {SEMAPHORE}"
    )
    assert "--templates" in wf["status"]["message"]


@pytest.mark.parametrize(
    ("sync", "says"),
    [
        ({"mutexes": [{"name": "m", "database": True}]}, "database mutexes are not supported"),
        ({"mutex": {"name": "m"}}, "spec.synchronization.mutex: removed in Argo v4"),
        (
            {"semaphore": {"configMapKeyRef": {"name": "c", "key": "k"}}},
            "spec.synchronization.semaphore: removed in Argo v4 (use `semaphores: [...]`)",
        ),
    ],
)
def test_locks_this_controller_cannot_honour_fail_the_workflow(
    sync: dict[str, Any], says: str
) -> None:
    wf = workflow({"entrypoint": "echo", "templates": [ECHO], "synchronization": sync})
    step(wf, Cluster(), 10.0, Settings(locks=MemoryLocks()))
    assert wf["status"]["phase"] == "Failed"
    assert says in wf["status"]["message"]


LOOP = {
    "entrypoint": "main",
    "templates": [
        {"name": "main", "steps": [[{"name": "x", "template": "locked", "withItems": [1, 2, 3]}]]},
        {**ECHO, "name": "locked", "synchronization": {"mutexes": [{"name": "welcome"}]}},
    ],
}


def test_a_template_level_mutex_runs_the_loop_children_one_at_a_time() -> None:
    settings = Settings(locks=MemoryLocks())
    wf, pods = workflow(LOOP), Cluster()
    settle(wf, pods, 10.0, settings)
    nodes = nodes_by_name(wf)
    children = [nodes[f"wf[0].x({i}:{i + 1})"] for i in range(3)]
    running = [c for c in children if c["phase"] == "Running"]
    waiting = [c for c in children if c["phase"] == "Pending"]
    assert len(running) == 1 and len(waiting) == 2 and len(pods.pods) == 1
    key = "default/Mutex/welcome"
    for node in waiting:
        assert node["message"] == f"Waiting for {key} lock. Lock status: 0/1"
        assert node["synchronizationStatus"] == {"waiting": key}
    holder = f"default/wf/{running[0]['id']}"
    assert wf["status"]["synchronization"]["mutex"] == {
        "holding": [{"mutex": key, "holder": holder}],
        "waiting": [{"mutex": key, "holder": holder}],
    }
    for turn in range(3):
        pods.end_all()
        settle(wf, pods, 11.0 + turn, settings)
    assert wf["status"]["phase"] == "Succeeded"
    assert all(nodes_by_name(wf)[c["name"]]["phase"] == "Succeeded" for c in children)
    assert "synchronizationStatus" not in str(wf["status"]["nodes"])
    assert "synchronization" not in wf["status"]


def test_a_restarted_controller_rebuilds_the_held_locks_from_the_workflows() -> None:
    holder, other = wf_mutex("holder"), wf_mutex("other")
    step(holder, Cluster(), 10.0, Settings(locks=MemoryLocks()))
    assert holder["status"]["phase"] == "Running"
    restarted = MemoryLocks()
    restarted.restore([holder])
    step(other, Cluster(), 11.0, Settings(locks=restarted))
    assert other["status"]["phase"] == "Pending"
    assert other["status"]["synchronization"]["mutex"]["waiting"] == [
        {"mutex": MUTEX, "holder": "default/holder"}
    ]


def test_holders_of_finished_or_deleted_workflows_and_silent_waiters_are_forgotten() -> None:
    stored = {"done": {"status": {"phase": "Succeeded"}}, "live": {"status": {"phase": "Running"}}}

    def get(name: str) -> dict[str, Any]:
        from argoexec.controller.loop.seams import NotFoundError

        if name not in stored:
            raise NotFoundError(name)
        return stored[name]

    clock = Clock()
    locks = MemoryLocks(stale=lambda: stale_holder(get, lambda _ns, name: name), clock=clock)
    request = [LockRequest(MUTEX, "mutex", 1)]
    for holder in ("default/done", "default/gone", "default/live"):
        locks.table.restore(holder, MUTEX)
    grant = locks.try_acquire("default/late", request, priority=9, created=0.0)
    assert not grant.acquired and grant.holders[MUTEX] == ("default/live",)
    stored["late"] = {"status": {"phase": "Pending"}}
    clock.now += PENDING_EXPIRY + 1  # `late` stopped asking: `next` need not wait behind it
    locks.release("default/live", [MUTEX])
    assert locks.try_acquire("default/next", request, priority=0, created=5.0).acquired


def test_a_holder_of_the_workflow_at_the_front_may_take_a_free_slot() -> None:
    table = LockTable({})
    request = [LockRequest(SEMAPHORE, "semaphore", 2)]
    assert table.try_acquire("default/w/n1", request, priority=0, created=1.0, now=0.0).acquired
    front = table.try_acquire("default/other", request, priority=0, created=0.5, now=0.0)
    assert front.acquired  # a free slot, and it heads the queue
    late = table.try_acquire("default/w/n2", request, priority=0, created=1.0, now=0.0)
    assert not late.acquired
    assert late.message == f"Waiting for {SEMAPHORE} lock. Lock status: 0/2"


def test_lint_refuses_database_backed_locks_and_the_removed_singular_fields() -> None:
    from argoexec.controller.workflow.lint import lint_workflow
    from argoexec.controller.workflow.store import TemplateStore

    wf = workflow(
        {
            "entrypoint": "echo",
            "synchronization": {"mutexes": [{"name": "m", "database": True}]},
            "templates": [
                {**ECHO, "synchronization": {"semaphores": [{"database": {"key": "k"}}]}},
                {**ECHO, "name": "old", "synchronization": {"mutex": {"name": "m"}}},
                {**ECHO, "name": "nameless", "synchronization": {"mutexes": [{"name": ""}]}},
            ],
        }
    )
    found = {(p.path, p.message) for p in lint_workflow(wf, TemplateStore())}
    database = "database-backed locks are not supported (no synchronization database)"
    assert ("spec.synchronization.mutexes[0].database", database) in found
    assert ("spec.templates[0].synchronization.semaphores[0].database", database) in found
    assert any(path == "spec.templates[1].synchronization.mutex" for path, _ in found)
    assert ("spec.templates[2].synchronization.mutexes[0]", "a mutex needs a name") in found


def test_a_template_level_mutex_is_named_by_the_nodes_inputs() -> None:
    locked = {
        **ECHO,
        "name": "locked",
        "inputs": {"parameters": [{"name": "region"}]},
        "synchronization": {"mutexes": [{"name": "deploy-{{inputs.parameters.region}}"}]},
    }
    call = {"name": "x", "template": "locked", "withItems": ["eu", "us", "eu"],
            "arguments": {"parameters": [{"name": "region", "value": "{{item}}"}]}}  # fmt: skip
    wf, pods = workflow({"entrypoint": "main", "templates": [
        {"name": "main", "steps": [[call]]}, locked]}), Cluster()  # fmt: skip
    settle(wf, pods, 10.0, Settings(locks=MemoryLocks()))
    holding = wf["status"]["synchronization"]["mutex"]["holding"]
    assert sorted(h["mutex"] for h in holding) == [
        "default/Mutex/deploy-eu",
        "default/Mutex/deploy-us",
    ]
    assert len(pods.pods) == 2  # one `eu` waits for the other


def test_file_locks_missing_their_file_are_rebuilt_from_the_stored_runs(tmp_path: Any) -> None:
    from argoexec.controller.loop.locks import FileLocks
    from argoexec.controller.loop.state_store import DirectoryStore

    store = DirectoryStore(tmp_path)
    stored = store.create(wf_mutex("holder"))
    stored["status"] = {
        "phase": "Running",
        "synchronization": {"mutex": {"holding": [{"mutex": MUTEX, "holder": "default/holder"}]}},
    }
    store.update(stored)
    locks = FileLocks(tmp_path, get=store.get, workflows=store.list, read_interval=0.0)
    request = [LockRequest(MUTEX, "mutex", 1)]
    grant = locks.try_acquire("default/other", request, priority=0, created=0.0)
    assert not grant.acquired and grant.holders[MUTEX] == ("default/holder",)
    stored = store.get("holder")
    stored["status"]["phase"] = "Succeeded"  # its end was stored, its release was not
    store.update(stored)
    assert locks.try_acquire("default/other", request, priority=0, created=0.0).acquired


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        ('{"broken', "Unterminated string"),
        ("[1]", "not a JSON object"),
        (f'{{"{MUTEX}": {{"holders": 5}}}}', f"lock '{MUTEX}': holders is not a list"),
        (f'{{"{MUTEX}": {{"pending": {{"h": 1}}}}}}', f"lock '{MUTEX}': pending is not a map"),
    ],
)
def test_an_unreadable_lock_file_keeps_the_workflow_waiting_with_its_path_and_cause(
    tmp_path: Any, content: str, cause: str
) -> None:
    from argoexec.controller.loop.locks import FileLocks
    from argoexec.controller.loop.state_store import DirectoryStore

    store = DirectoryStore(tmp_path)
    (tmp_path / "synchronization.json").write_text(content)
    locks = FileLocks(tmp_path, get=store.get, workflows=store.list, read_interval=0.0)
    wf, pods = wf_mutex("a"), Cluster()
    step(wf, pods, 10.0, Settings(locks=locks))
    assert wf["status"]["phase"] == "Pending" and not pods.pods
    message = wf["status"]["message"]
    assert message.startswith(f"cannot read the locks {tmp_path / 'synchronization.json'}: ")
    assert cause in message
    # Stopping the waiting workflow releases what it can and fails it, as for any waiter.
    wf["spec"]["shutdown"] = "Stop"
    settle(wf, pods, 11.0, Settings(locks=locks))
    assert wf["status"]["phase"] == "Failed"
    (tmp_path / "synchronization.json").unlink()  # rebuilt from the runs' statuses
    again = wf_mutex("b")
    step(again, Cluster(), 12.0, Settings(locks=locks))
    assert again["status"]["phase"] == "Running"
