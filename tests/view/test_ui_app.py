"""The web view's application through Flask's test client, on a state directory holding a
real run: what it answers, and what it refuses (hosts, tokens, paths, cross-site changes)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from argoexec.view.web.app import create_app
from argoexec.view.web.runs import StateDirRuns
from argoexec.view.web.security import COOKIE, Guard
from tests.view.workflows import (
    HOSTILE,
    SCRIPT,
    node_named,
    phase_is,
    start,
    wait_for,
    workflow,
)

PORT = 2746
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ui-app") / "state"
    root.mkdir()
    assert start(root, HOSTILE, "hostile").wait(timeout=180) == 0
    return root


def client_for(state: Path, guard: Guard) -> Any:
    app = create_app(StateDirRuns(state), guard, root=state, environ=dict(os.environ))
    return app.test_client()


@pytest.fixture
def client(state: Path) -> Iterator[Any]:
    yield client_for(state, Guard.listening_on("127.0.0.1", PORT, None))


def get(client: Any, path: str, **kwargs: Any) -> Any:
    return client.get(path, base_url=BASE, **kwargs)


def make_id(state: Path) -> str:
    return str(node_named(workflow(state, "hostile"), "make")["id"])


def test_the_list_and_a_workflow_are_served_as_json(client: Any) -> None:
    items = get(client, "/api/v1/workflows").get_json()["items"]
    assert [(i["name"], i["namespace"], i["phase"], i["progress"]) for i in items] == [
        ("hostile", "default", "Succeeded", "3/3")
    ]
    answer = get(client, "/api/v1/workflows/default/hostile")
    assert answer.get_json()["metadata"]["name"] == "hostile"
    assert answer.headers["X-Workflow-Version"]


@pytest.mark.parametrize(
    "path",
    [
        "/workflows/other/hostile",
        "/workflows/default/nothing",
        "/api/v1/workflows/default/..",
        "/api/v1/workflows/default/hostile/nodes/nope/containers",
        "/api/v1/workflows/default/hostile/nodes/hostile/containers",  # a Steps node: no pod
        "/api/v1/workflows/default/%2E%2E%2Fhostile",
    ],
)
def test_what_is_not_there_is_a_404_naming_it(client: Any, path: str) -> None:
    answer = get(client, path)
    assert answer.status_code == 404, answer.data
    assert b"Traceback" not in answer.data


def test_a_log_is_only_a_container_the_pod_has(client: Any, state: Path) -> None:
    node = make_id(state)
    base = f"/api/v1/workflows/default/hostile/nodes/{node}"
    answer = get(client, f"{base}/containers").get_json()
    assert answer["containers"] == ["main", "init", "wait"]
    assert answer["pod"].startswith("hostile-make-")
    for container in ("../../workflow", "../../../../etc/passwd", "main.log", ""):
        answer = get(client, f"{base}/log.txt", query_string={"container": container})
        assert answer.status_code == 404, container
    answer = get(client, f"{base}/log.txt", query_string={"container": "main"})
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert SCRIPT in answer.get_data(as_text=True)


def test_a_finished_pods_log_streams_then_ends(client: Any, state: Path) -> None:
    node = make_id(state)
    answer = get(client, f"/api/v1/workflows/default/hostile/nodes/{node}/log?container=main")
    assert answer.mimetype == "text/event-stream"
    events = answer.get_data(as_text=True).split("\n\n")
    data = [json.loads(e.split("data: ", 1)[1]) for e in events if e.startswith("id: ")]
    assert SCRIPT in "".join(data)
    assert events[-2] == "event: end\ndata: {}"


def test_artifacts_download_as_stored_and_preview_as_listings(client: Any, state: Path) -> None:
    base = f"/api/v1/workflows/default/hostile/nodes/{make_id(state)}/artifacts"
    answer = get(client, f"{base}/page")
    assert answer.headers["Content-Disposition"] == "attachment; filename=page.tgz"
    with tarfile.open(fileobj=io.BytesIO(answer.data)) as tar:
        member = tar.extractfile("out.txt")
        assert member is not None and member.read() == b"<script>alert(1)</script>"
    shown = get(client, f"{base}/page/preview").get_json()
    assert shown["kind"] == "archive" and shown["text"] == "<script>alert(1)</script>"
    shown = get(client, f"{base}/folder/preview").get_json()
    assert {e["name"] for e in shown["entries"]} >= {"dir/a.txt", "dir/sub/b.txt"}
    assert "text" not in shown  # two files: listed, not previewed
    missing = get(client, f"{base}/nope")
    assert missing.status_code == 404 and b"page, folder, loose" in missing.data


def test_a_directory_artifact_lists_its_files_and_is_not_one_download(
    client: Any, state: Path
) -> None:
    base = f"/api/v1/workflows/default/hostile/nodes/{make_id(state)}/artifacts/loose"
    shown = get(client, f"{base}/preview").get_json()
    assert shown["kind"] == "directory"
    assert sorted(e["name"] for e in shown["entries"]) == ["a.txt", "sub/b.txt"]
    answer = get(client, base)
    assert answer.status_code == 422
    assert b"is a directory (archive: none)" in answer.data


def test_pages_forbid_inline_scripts_framing_and_sniffing(client: Any) -> None:
    answer = get(client, "/workflows/default/hostile")
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert 'data-name="hostile"' in answer.get_data(as_text=True)


def test_on_loopback_another_host_name_is_refused(client: Any) -> None:
    """A page of another site reaching the view through DNS rebinding names its own host."""
    answer = client.get("/api/v1/workflows", base_url=f"http://evil.example:{PORT}")
    assert answer.status_code == 403
    assert get(client, "/api/v1/workflows").status_code == 200
    assert client.get("/", base_url=f"http://localhost:{PORT}").status_code == 200


def test_changes_are_json_from_the_views_own_pages(client: Any) -> None:
    url = "/api/v1/workflows/default/hostile/actions/stop"
    form = client.post(url, base_url=BASE, data={"a": "b"})
    assert form.status_code == 415
    cross = client.post(url, base_url=BASE, json={}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    unknown = client.post(
        "/api/v1/workflows/default/hostile/actions/explode", base_url=BASE, json={}
    )
    assert unknown.status_code == 400 and "unknown action" in unknown.get_json()["output"]
    bad = client.post(
        "/api/v1/workflows/default/hostile/actions/resume",
        base_url=BASE,
        json={"parameters": {"a b": "c"}},
    )
    assert bad.status_code == 400 and "not a valid parameter name" in bad.get_json()["output"]


def test_an_action_runs_the_cli_command_and_answers_with_what_it_said(client: Any) -> None:
    """Stopping a finished workflow: the CLI's own refusal comes back, nothing changes."""
    answer = client.post("/api/v1/workflows/default/hostile/actions/stop", base_url=BASE, json={})
    body = answer.get_json()
    assert answer.status_code == 409 and body["finished"] and not body["ok"]
    assert "is not running: it has finished (Succeeded)" in body["output"]
    assert "Traceback" not in body["output"]


class TestAToken:
    """Any address but loopback: every request carries the token printed at start, or comes
    from a browser signed in through a one-time URL."""

    TOKEN = "s3cret-token-value"
    SERVED = "http://10.1.2.3:2746"

    @pytest.fixture
    def guard(self) -> Guard:
        self.announced: list[str] = []
        return Guard.listening_on("10.1.2.3", PORT, self.TOKEN, self.announced.append)

    @pytest.fixture
    def client(self, state: Path, guard: Guard) -> Any:
        return client_for(state, guard)

    def test_without_it_every_request_is_refused(self, client: Any) -> None:
        for path in ("/", "/api/v1/workflows", "/static/run.js", f"/workflows?token={self.TOKEN}"):
            answer = client.get(path, base_url=self.SERVED)
            assert answer.status_code == 401, path
        post = client.post(
            "/api/v1/workflows/default/hostile/actions/stop", base_url=self.SERVED, json={}
        )
        assert post.status_code == 401

    def test_a_bearer_header_is_enough(self, client: Any) -> None:
        bearer = {"Authorization": f"Bearer {self.TOKEN}"}
        assert (
            client.get("/api/v1/workflows", base_url=self.SERVED, headers=bearer).status_code == 200
        )
        wrong = {"Authorization": "Bearer guess"}
        assert (
            client.get("/api/v1/workflows", base_url=self.SERVED, headers=wrong).status_code == 401
        )

    def test_the_one_time_url_signs_one_browser_in_and_is_used_up(
        self, client: Any, state: Path, guard: Guard
    ) -> None:
        code = guard.login
        answer = client.get(f"/workflows?phase=Running&login={code}", base_url=self.SERVED)
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/workflows?phase=Running"
        cookie = answer.headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}_{PORT}=") and self.TOKEN not in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert client.get("/api/v1/workflows", base_url=self.SERVED).status_code == 200
        # Used up: another browser needs the next code, which was printed.
        other = client_for(state, guard)
        assert other.get(f"/workflows?login={code}", base_url=self.SERVED).status_code == 401
        assert self.announced == [guard.login] and guard.login != code
        assert other.get(f"/workflows?login={guard.login}", base_url=self.SERVED).status_code == 303

    def test_a_signed_in_browser_still_changes_nothing_from_another_site(
        self, client: Any, guard: Guard
    ) -> None:
        client.get(f"/workflows?login={guard.login}", base_url=self.SERVED)
        cross = client.post(
            "/api/v1/workflows/default/hostile/actions/stop",
            base_url=self.SERVED,
            json={},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403


def test_a_pod_directory_that_leads_out_of_the_run_is_none_of_its(
    state: Path, tmp_path: Path
) -> None:
    """Nothing a request names becomes a path: not even through a link in the state dir."""
    copy = tmp_path / "state"
    shutil.copytree(state, copy, symlinks=True, ignore=shutil.ignore_patterns(".changes"))
    node = node_named(workflow(copy, "hostile"), "make")
    outside = tmp_path / "outside"
    (outside / "logs").mkdir(parents=True)
    (outside / "logs" / "main.log").write_text("SECRET")
    pods = copy / "hostile" / "pods"
    pod = next(p for p in pods.iterdir() if p.name.endswith(str(node["id"]).rsplit("-", 1)[1]))
    shutil.rmtree(pod)
    pod.symlink_to(outside)
    client = client_for(copy, Guard.listening_on("127.0.0.1", PORT, None))
    base = f"/api/v1/workflows/default/hostile/nodes/{node['id']}"
    for path in ("/containers", "/log.txt?container=main", "/log?container=main"):
        answer = get(client, base + path)
        assert answer.status_code == 404 and b"SECRET" not in answer.data, path


def test_resubmit_answers_with_the_new_run_and_delete_removes_it(client: Any, state: Path) -> None:
    answer = client.post(
        "/api/v1/workflows/default/hostile/actions/resubmit", base_url=BASE, json={}
    )
    body = answer.get_json()
    assert answer.status_code == 200 and body["ok"], body
    new = body["submitted"]
    assert new.startswith("hostile-") and new != "hostile"
    # The resubmitted run goes on in the background (`argoexec resubmit` drives it).
    wait_for(state, new, phase_is("Succeeded"))
    assert get(client, f"/workflows/default/{new}").status_code == 200
    deadline = time.monotonic() + 60
    while True:  # its driver lets go of the run just after writing the last state
        deleted = client.post(
            f"/api/v1/workflows/default/{new}/actions/delete", base_url=BASE, json={}
        )
        if deleted.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert deleted.get_json()["output"] == f"workflow {new} deleted\n"
    assert get(client, f"/workflows/default/{new}").status_code == 404
    assert not (state / new).exists()


def log_events(answer: Any) -> list[str]:
    return [e for e in answer.get_data(as_text=True).split("\n\n") if e]


def test_a_long_log_starts_with_its_tail_and_a_reconnect_goes_on_where_it_was(
    client: Any, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argoexec.view.web import streams

    monkeypatch.setattr(streams, "LOG_TAIL_BYTES", 10)
    url = f"/api/v1/workflows/default/hostile/nodes/{make_id(state)}/log?container=main"
    whole = get(client, url.replace("/log?", "/log.txt?")).data
    events = log_events(get(client, url))
    assert events[0] == f'event: skipped\ndata: {{"skipped": {len(whole) - 10}}}'
    assert json.loads(events[1].split("data: ", 1)[1]) == whole[-10:].decode()
    resumed = log_events(get(client, url, headers={"Last-Event-ID": str(len(whole) - 4)}))
    assert resumed[0] == f"id: {len(whole)}\ndata: {json.dumps(whole[-4:].decode())}"
    assert resumed[-1] == "event: end\ndata: {}"


def test_a_log_stream_whose_time_is_up_ends_without_saying_the_log_ended(
    client: Any, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The browser then reconnects (from where it was) rather than stop following."""
    from argoexec.view.web import streams

    monkeypatch.setattr(streams, "STREAM_SECONDS", 0)
    url = f"/api/v1/workflows/default/hostile/nodes/{make_id(state)}/log?container=main"
    assert not any("event: end" in e for e in log_events(get(client, url)))


def test_on_port_80_the_host_may_leave_the_port_out(state: Path) -> None:
    client = client_for(state, Guard.listening_on("127.0.0.1", 80, None))
    assert client.get("/api/v1/workflows", base_url="http://127.0.0.1").status_code == 200
    assert client.get("/api/v1/workflows", base_url="http://localhost:80").status_code == 200
    assert client.get("/api/v1/workflows", base_url="http://evil.example").status_code == 403
