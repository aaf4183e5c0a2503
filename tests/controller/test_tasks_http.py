"""An `http` template's request and outcome (`controller.tasks.http`), against the loopback echo
server: Argo's agent rules for success, messages, redirects, timeouts, secrets and TLS."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from argoexec.controller.loop.tasks import ThreadTasks
from argoexec.controller.tasks.http import build_request, run_http
from artifacts.secrets import MappingSecretResolver, NoSecrets
from tests.servers.httpecho import EchoServer

SECRETS = MappingSecretResolver({"api": {"token": "s3cr3t-token-value"}})


def http(url: str, **fields: Any) -> dict[str, Any]:
    return {"name": "call", "http": {"url": url, **fields}}


def test_a_2xx_response_succeeds_with_the_body_as_the_result(echo_server: EchoServer) -> None:
    result = run_http(http(f"{echo_server.url}/hello"), secrets=NoSecrets())
    assert result.phase == "Succeeded"
    assert result.message == ""
    assert result.outputs == {"result": "hello world"}
    assert echo_server.journal.requests[0]["method"] == "GET"


def test_a_non_2xx_response_fails_as_argo_words_it_and_keeps_the_body(
    echo_server: EchoServer,
) -> None:
    result = run_http(http(f"{echo_server.url}/status/503"), secrets=NoSecrets())
    assert result.phase == "Failed"
    assert result.message == "received non-2xx response code: 503"
    assert result.outputs == {"result": "status 503"}


def test_a_success_condition_sees_the_status_body_and_headers(echo_server: EchoServer) -> None:
    condition = (
        'response.statusCode == 404 && response.body == "status 404" '
        '&& response.headers["X-Echo"][0] == "yes" && request.method == "GET"'
    )
    template = http(f"{echo_server.url}/status/404", successCondition=condition)
    assert run_http(template, secrets=NoSecrets()).phase == "Succeeded"


def test_a_false_success_condition_fails_naming_the_condition(echo_server: EchoServer) -> None:
    template = http(f"{echo_server.url}/hello", successCondition="response.statusCode == 201")
    result = run_http(template, secrets=NoSecrets())
    assert result.phase == "Failed"
    assert result.message == "successCondition 'response.statusCode == 201' evaluated false"
    assert result.outputs == {"result": "hello world"}


def test_a_success_condition_that_is_not_boolean_fails_naming_it(echo_server: EchoServer) -> None:
    template = http(f"{echo_server.url}/hello", successCondition="response.statusCode")
    result = run_http(template, secrets=NoSecrets())
    assert result.phase == "Failed"
    assert "successCondition" in result.message
    assert "response.statusCode" in result.message


def test_method_body_and_headers_are_sent_with_secret_values(echo_server: EchoServer) -> None:
    template = http(
        f"{echo_server.url}/echo",
        method="post",
        body='{"a": 1}',
        headers=[
            {"name": "Content-Type", "value": "application/json"},
            {
                "name": "Authorization",
                "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}},
            },
        ],
    )
    result = run_http(template, secrets=SECRETS)
    assert result.phase == "Succeeded", result.message
    echoed = json.loads(str((result.outputs or {})["result"]))
    assert echoed["method"] == "POST"
    assert echoed["body"] == '{"a": 1}'
    assert echoed["headers"]["Authorization"] == "s3cr3t-token-value"
    assert echoed["headers"]["Content-Type"] == "application/json"


def test_body_from_bytes_is_base64_on_the_wire(echo_server: EchoServer) -> None:
    raw = b"\x00binary\xff"
    template = http(
        f"{echo_server.url}/echo",
        method="PUT",
        bodyFrom={"bytes": base64.b64encode(raw).decode()},
    )
    request = build_request(template, NoSecrets())
    assert request.body == raw
    assert run_http(template, secrets=NoSecrets()).phase == "Succeeded"
    assert echo_server.journal.requests[-1]["method"] == "PUT"


def test_a_host_header_sets_the_requests_host(echo_server: EchoServer) -> None:
    template = http(f"{echo_server.url}/echo", headers=[{"name": "Host", "value": "example.test"}])
    result = run_http(template, secrets=NoSecrets())
    echoed = json.loads(str((result.outputs or {})["result"]))
    assert echoed["headers"]["Host"] == "example.test"


def test_a_missing_secret_fails_the_node_naming_the_header_and_secret(
    echo_server: EchoServer,
) -> None:
    ref = {"secretKeyRef": {"name": "absent", "key": "token"}}
    template = http(f"{echo_server.url}/hello", headers=[{"name": "X-Key", "valueFrom": ref}])
    result = run_http(template, secrets=SECRETS)
    assert result.phase == "Failed"
    assert "header 'X-Key'" in result.message
    assert "'absent'" in result.message
    assert echo_server.journal.requests == []


def test_a_refused_connection_names_template_method_and_url_without_credentials() -> None:
    url = "http://user:s3cr3t-token-value@127.0.0.1:9/path?sig=s3cr3t-token-value"
    template = http(url, headers=[
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
    ])  # fmt: skip
    result = run_http(template, secrets=SECRETS)
    assert result.phase == "Failed"
    assert result.message.startswith("http template 'call': Get \"http://127.0.0.1:9/path?sig=")
    assert "s3cr3t-token-value" not in result.message
    assert "refused" in result.message.lower()


def test_timeout_seconds_bounds_the_whole_exchange(echo_server: EchoServer) -> None:
    template = http(f"{echo_server.url}/slow?seconds=3", timeoutSeconds=0.3)
    result = run_http(template, secrets=NoSecrets())
    assert result.phase == "Failed"
    assert "context deadline exceeded" in result.message


def test_redirects_are_followed_and_a_303_turns_a_post_into_a_get(echo_server: EchoServer) -> None:
    template = http(f"{echo_server.url}/redirect/303?to=/echo", method="POST", body="payload")
    result = run_http(template, secrets=NoSecrets())
    echoed = json.loads(str((result.outputs or {})["result"]))
    assert (echoed["method"], echoed["body"]) == ("GET", "")


def test_a_307_repeats_the_method_and_body(echo_server: EchoServer) -> None:
    template = http(f"{echo_server.url}/redirect/307?to=/echo", method="POST", body="payload")
    echoed = json.loads(str((run_http(template, secrets=NoSecrets()).outputs or {})["result"]))
    assert (echoed["method"], echoed["body"]) == ("POST", "payload")


def test_a_redirect_loop_stops_after_ten_redirects(echo_server: EchoServer) -> None:
    template = http(f"{echo_server.url}/loop")
    result = run_http(template, secrets=NoSecrets())
    assert result.phase == "Failed"
    assert "stopped after 10 redirects" in result.message
    assert len(echo_server.journal.requests) == 11


def test_a_body_larger_than_the_cap_fails_the_node(echo_server: EchoServer) -> None:
    template = http(f"{echo_server.url}/big?bytes=5000")
    result = run_http(template, secrets=NoSecrets(), max_body_bytes=4096)
    assert result.phase == "Failed"
    assert "larger than 4096 bytes" in result.message
    assert run_http(template, secrets=NoSecrets(), max_body_bytes=5000).phase == "Succeeded"


def test_https_with_an_unknown_ca_fails_unless_verification_is_skipped(
    echo_tls_server: EchoServer,
) -> None:
    verified = run_http(http(f"{echo_tls_server.url}/hello"), secrets=NoSecrets())
    assert verified.phase == "Failed"
    assert "CERTIFICATE_VERIFY_FAILED" in verified.message
    skipped = run_http(
        http(f"{echo_tls_server.url}/hello", insecureSkipVerify=True), secrets=NoSecrets()
    )
    assert skipped.phase == "Succeeded", skipped.message
    assert skipped.outputs == {"result": "hello world"}


def test_the_local_agent_runs_a_task_once_however_often_it_is_asked(
    echo_server: EchoServer,
) -> None:
    tasks = ThreadTasks()
    template = http(f"{echo_server.url}/hello")
    for _ in range(5):
        tasks.run("wf", {}, "wf-1", template)
    assert tasks.changed.wait(10)
    deadline = time.monotonic() + 10
    while not tasks.observe("wf") and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = tasks.observe("wf")["wf-1"]
    assert (seen.phase, seen.outputs) == ("Succeeded", {"result": "hello world"})
    assert len(echo_server.journal.requests) == 1
    tasks.release("wf")
    assert tasks.observe("wf") == {}
    tasks.close()


def test_user_info_in_the_url_is_sent_as_basic_authentication_and_never_shown(
    echo_server: EchoServer,
) -> None:
    url = echo_server.url.replace("http://", "http://alice:pa%40ss-s3cr3t@") + "/echo"
    result = run_http(http(url, successCondition="response.statusCode == 999"), secrets=NoSecrets())
    sent = echo_server.journal.requests[-1]["headers"]["Authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")) == b"alice:pa@ss-s3cr3t"
    assert result.phase == "Failed" and "s3cr3t" not in result.message
    given = {"name": "Authorization", "value": "Bearer mine"}
    run_http(http(url, headers=[given]), secrets=NoSecrets())
    assert echo_server.journal.requests[-1]["headers"]["Authorization"] == "Bearer mine"


def test_requests_that_cannot_be_made_fail_the_node_naming_the_cause_not_a_python_error(
    echo_server: EchoServer,
) -> None:
    host = echo_server.url.removeprefix("http://").split(":")[0]
    refused = {
        "http://127.0.0.1:99999/": "invalid URL: Port out of range",
        "http://127.0.0.1:abc/": "invalid URL: Port could not be cast",
        "http://[::1/": "Invalid IPv6 URL",
        f"http://{host}:1/x y?token=s3cr3t-q": "the URL has spaces or control characters",
    }
    for url, cause in refused.items():
        result = run_http(http(url), secrets=NoSecrets())
        assert result.phase == "Failed" and cause in result.message, result.message
        assert result.message.startswith("http template 'call': ")
        assert "s3cr3t" not in result.message
    assert echo_server.journal.requests == []


def test_a_header_that_would_smuggle_another_line_is_refused_without_showing_its_value(
    echo_server: EchoServer,
) -> None:
    secrets = MappingSecretResolver({"api": {"token": "s3cr3t\r\nX-Injected: 1"}})
    ref = {"secretKeyRef": {"name": "api", "key": "token"}}
    cases = [
        ([{"name": "X-Key", "valueFrom": ref}], "invalid header field value for 'X-Key'"),
        ([{"name": "", "value": "a"}], "invalid header field name ''"),
        ([{"name": "Bad Name", "value": "a"}], "invalid header field name 'Bad Name'"),
    ]
    for headers, cause in cases:
        result = run_http(http(f"{echo_server.url}/echo", headers=headers), secrets=secrets)
        assert result.phase == "Failed" and cause in result.message, result.message
        assert "s3cr3t" not in result.message
    result = run_http(http(f"{echo_server.url}/echo", timeoutSeconds="soon"), secrets=secrets)
    assert result.message == "http template 'call': http.timeoutSeconds 'soon' is not a number"
    assert echo_server.journal.requests == []


def test_a_task_that_breaks_our_code_is_an_error_node_not_an_exception() -> None:
    from argoexec.controller.tasks.agent import run_task

    result = run_task({"name": "call", "http": "not a mapping"}, NoSecrets())
    assert result.phase == "Error"
    assert result.message.startswith("error processing task: AttributeError")


def test_the_agent_makes_no_queued_request_once_the_workflow_completed(
    kube_api: Any, echo_server: EchoServer
) -> None:
    import threading

    from argoexec.controller.tasks.agent import Agent, task_sets_path
    from argoexec.kube.client import KubeClient, KubeClientConfig
    from argoexec.lifecycle import Stop

    tasks = {f"calls-{i}": http(f"{echo_server.url}/slow?seconds=2") for i in range(3)}
    task_set = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTaskSet",
        "metadata": {"name": "calls", "namespace": "default"},
        "spec": {"tasks": tasks},
    }
    kube_api.seed(task_set)
    client = KubeClient(KubeClientConfig(server=kube_api.url, token=kube_api.token, timeout=5))
    stop = Stop()
    agent = Agent(client, "default", "calls", NoSecrets, stop, workers=1, poll=0.1)
    serving = threading.Thread(target=agent.run, daemon=True)
    serving.start()
    deadline = time.monotonic() + 10
    while not echo_server.journal.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    # The workflow completes while the first request is in flight and two are queued.
    labels = {"workflows.argoproj.io/completed": "true"}
    client.patch(task_sets_path("default", "calls"), {"metadata": {"labels": labels}},
                 patch_type="merge")  # fmt: skip
    serving.join(timeout=5)
    assert not serving.is_alive()
    time.sleep(2.5)  # what a queued request would need to reach the server
    stop.set()
    assert len(echo_server.journal.requests) == 1


def test_a_success_condition_error_quoting_the_url_shows_neither_password_nor_query_values(
    echo_server: EchoServer,
) -> None:
    url = echo_server.url.replace("http://", "http://u:pw%40s3cr3t-pass@") + "/x?tok=s3cr3t-q"
    for condition in ("request.url", "split(request.url, '@')[0]", "int(request.url) > 1"):
        result = run_http(http(url, successCondition=condition), secrets=NoSecrets())
        assert result.phase == "Failed" and "successCondition" in result.message
        assert "s3cr3t" not in result.message, result.message
