"""The lean Kubernetes client against the fake API server: configuration, TLS, errors, §10.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from argoexec import __version__
from argoexec.config import ExecutorConfig
from argoexec.kube.client import KubeClient, KubeClientConfig, resource_path
from argoexec.kube.errors import (
    TRANSIENT_MESSAGES,
    KubeAlreadyExistsError,
    KubeConfigError,
    KubeConflictError,
    KubeConnectionError,
    KubeError,
    KubeForbiddenError,
    KubeInternalError,
    KubeInvalidError,
    KubeNotFoundError,
    KubeServerTimeoutError,
    KubeServiceUnavailableError,
    KubeTimeoutError,
    KubeTooManyRequestsError,
    KubeUnauthorizedError,
    error_from_response,
    is_transient,
)
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import redact
from tests.servers.kube import FakeKube
from tests.servers.procs import free_port

CM = resource_path("", "v1", "configmaps", namespace="argo")
RESULTS = resource_path("argoproj.io", "v1alpha1", "workflowtaskresults", namespace="argo")


def client_for(fake: FakeKube, tmp_path: Path, **kwargs: object) -> KubeClient:
    kwargs.setdefault("token", fake.token)
    path = fake.kubeconfig(tmp_path / "kubeconfig", **kwargs)  # type: ignore[arg-type]
    return KubeClient.from_kubeconfig([path])


def cm(name: str, **data: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


# --- configuration --------------------------------------------------------------------------------


def test_the_helpers_create_get_put_patch_and_delete(kube_api: FakeKube, tmp_path: Path) -> None:
    client = client_for(kube_api, tmp_path)
    created = client.create(CM, cm("c", a="1"))
    assert created["metadata"]["resourceVersion"]
    assert client.get(f"{CM}/c")["data"] == {"a": "1"}
    created["data"] = {"a": "2"}
    assert client.put(f"{CM}/c", created)["data"] == {"a": "2"}
    assert client.patch(f"{CM}/c", {"data": {"b": "3"}})["data"] == {"a": "2", "b": "3"}
    ops = [{"op": "remove", "path": "/data/a"}]
    assert client.patch(f"{CM}/c", ops, patch_type="json")["data"] == {"b": "3"}
    applied = client.patch(f"{CM}/d", cm("d", x="y"), patch_type="apply", fieldManager="argoexec")
    assert applied["data"] == {"x": "y"}
    assert client.delete(f"{CM}/c")["metadata"]["name"] == "c"
    assert [r.content_type for r in kube_api.requests("PATCH")] == [
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/apply-patch+yaml",
    ]
    assert kube_api.requests("PATCH")[-1].query == {"fieldManager": "argoexec"}


def test_request_returns_the_status_and_sends_query_parameters(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    client = client_for(kube_api, tmp_path)
    code, _ = client.request("POST", CM, body=cm("c"))
    assert code == 201
    code, listed = client.request("GET", CM, query={"labelSelector": "a in (b)"})
    assert code == 200 and listed["kind"] == "ConfigMapList"
    assert kube_api.journal[-1].query == {"labelSelector": "a in (b)"}


def test_requests_identify_as_the_argo_executor(kube_api: FakeKube, tmp_path: Path) -> None:
    client_for(kube_api, tmp_path).get(CM)
    assert kube_api.journal[-1].user_agent == f"argo-workflows/{__version__} argo-executor"


def test_resource_paths_follow_the_api_layout() -> None:
    assert (
        resource_path("", "v1", "pods", namespace="ns", name="p") == "/api/v1/namespaces/ns/pods/p"
    )
    assert (
        resource_path("apps", "v1", "deployments", namespace="ns", name="d", subresource="status")
        == "/apis/apps/v1/namespaces/ns/deployments/d/status"
    )
    assert resource_path("argoproj.io", "v1alpha1", "clusterworkflowtemplates") == (
        "/apis/argoproj.io/v1alpha1/clusterworkflowtemplates"
    )


def test_the_context_and_namespace_can_be_chosen(kube_api: FakeKube, tmp_path: Path) -> None:
    path = kube_api.kubeconfig(tmp_path / "config", token=kube_api.token, namespace="from-ctx")
    assert KubeClient.from_kubeconfig([path]).namespace == "from-ctx"
    assert KubeClient.from_kubeconfig([path], context="fake", namespace="over").namespace == "over"
    with pytest.raises(KubeConfigError, match="'other'"):
        KubeClient.from_kubeconfig([path], context="other")


def test_a_token_file_is_reread_so_a_rotated_token_works(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(kube_api.token)
    client = client_for(kube_api, tmp_path, token=None, user={"tokenFile": "token"})
    client.get(CM)
    kube_api.token = "rotated-token-abcdef-123456"
    token.write_text(kube_api.token + "\n")
    client.get(CM)
    assert [r.status for r in kube_api.journal] == [200, 200]
    assert redact(kube_api.token) == "***"


def test_a_wrong_token_is_unauthorized(kube_api: FakeKube, tmp_path: Path) -> None:
    with pytest.raises(KubeUnauthorizedError) as info:
        client_for(kube_api, tmp_path, token="wrong-token-0000").get(CM)
    assert info.value.status == 401 and not is_transient(info.value)


def test_tls_with_the_ca_data_of_the_kubeconfig(kube_api_tls: FakeKube, tmp_path: Path) -> None:
    assert client_for(kube_api_tls, tmp_path).get(CM)["items"] == []


def test_tls_with_ca_and_client_certificate_files(kube_api_tls: FakeKube, tmp_path: Path) -> None:
    assert kube_api_tls.pki is not None
    (tmp_path / "ca.crt").write_bytes(kube_api_tls.pki.ca_pem)
    (tmp_path / "client.crt").write_bytes(kube_api_tls.pki.client_cert_pem)
    (tmp_path / "client.key").write_bytes(kube_api_tls.pki.client_key_pem)
    path = kube_api_tls.kubeconfig(
        tmp_path / "config",
        ca=False,
        user={"client-certificate": "client.crt", "client-key": "client.key"},
    )
    text = path.read_text().replace("server:", "certificate-authority: ca.crt\n    server:")
    path.write_text(text)
    KubeClient.from_kubeconfig([path]).get(CM)
    assert kube_api_tls.journal[-1].user == "argoexec-client"


def test_an_unknown_ca_fails_verification_and_is_not_transient(
    kube_api_tls: FakeKube, tmp_path: Path
) -> None:
    with pytest.raises(KubeConnectionError, match="CERTIFICATE_VERIFY_FAILED") as info:
        client_for(kube_api_tls, tmp_path, ca=False).get(CM)
    assert not is_transient(info.value)


def test_insecure_skip_tls_verify_accepts_an_unknown_ca(
    kube_api_tls: FakeKube, tmp_path: Path
) -> None:
    assert client_for(kube_api_tls, tmp_path, insecure=True).get(CM)["items"] == []


@pytest.fixture
def service_account(kube_api_tls: FakeKube, tmp_path: Path) -> Path:
    assert kube_api_tls.pki is not None
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(kube_api_tls.token)
    (sa / "ca.crt").write_bytes(kube_api_tls.pki.ca_pem)
    (sa / "namespace").write_text("argo\n")
    return sa


def test_in_cluster_uses_the_service_account_files(
    kube_api_tls: FakeKube, service_account: Path
) -> None:
    port = kube_api_tls.url.rsplit(":", 1)[1]
    client = KubeClient.in_cluster("127.0.0.1", port, service_account_dir=service_account)
    assert client.namespace == "argo"
    client.get(CM)
    kube_api_tls.token = "projected-token-rotated-987654"
    (service_account / "token").write_text(kube_api_tls.token)
    client.get(CM)
    assert [r.status for r in kube_api_tls.journal] == [200, 200]


def test_from_config_prefers_a_kubeconfig_then_falls_back_to_in_cluster(
    kube_api: FakeKube, kube_api_tls: FakeKube, service_account: Path, tmp_path: Path
) -> None:
    path = kube_api.kubeconfig(tmp_path / "config", token=kube_api.token, namespace="kc")
    config = ExecutorConfig.from_environ({"KUBECONFIG": str(path)})
    assert KubeClient.from_config(config).config.server == kube_api.url
    port = kube_api_tls.url.rsplit(":", 1)[1]
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
    in_cluster = KubeClient.from_config(
        ExecutorConfig.from_environ(env), service_account_dir=service_account
    )
    assert in_cluster.config.server == kube_api_tls.url and in_cluster.namespace == "argo"
    in_cluster.get(CM)
    explicit = KubeClient.from_config(ExecutorConfig.from_environ(env), kubeconfig=path)
    assert explicit.namespace == "kc"


def test_without_any_configuration_the_error_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="KUBERNETES_SERVICE_HOST"):
        KubeClient.from_config(ExecutorConfig.from_environ({}), service_account_dir=tmp_path)
    with pytest.raises(KubeConfigError, match="token"):
        KubeClient.in_cluster("127.0.0.1", "443", service_account_dir=tmp_path)


def test_an_ipv6_service_host_is_bracketed(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t-0123456789")
    config = KubeClient.in_cluster("::1", "6443", service_account_dir=tmp_path).config
    assert config.server == "https://[::1]:6443"


def test_the_config_repr_never_shows_credentials(tmp_path: Path) -> None:
    config = KubeClientConfig(server="http://127.0.0.1:1", token="tok-secret-123456")
    assert "tok-secret" not in repr(config)


# --- errors -------------------------------------------------------------------------------------


def test_api_errors_map_to_their_classes(kube_api: FakeKube, tmp_path: Path) -> None:
    client = client_for(kube_api, tmp_path)
    with pytest.raises(KubeNotFoundError) as missing:
        client.get(f"{RESULTS}/none")
    assert missing.value.details["name"] == "none" and missing.value.reason == "NotFound"
    client.create(CM, cm("c"))
    with pytest.raises(KubeAlreadyExistsError) as exists:
        client.create(CM, cm("c"))
    assert not isinstance(exists.value, KubeConflictError), "AlreadyExists is not a Conflict"
    stale = cm("c", a="1")
    stale["metadata"] = {"name": "c", "resourceVersion": "1"}
    with pytest.raises(KubeConflictError, match="the object has been modified"):
        client.put(f"{CM}/c", stale)
    with pytest.raises(KubeInvalidError):
        client.patch(f"{CM}/c", [{"op": "test", "path": "/data", "value": 1}], patch_type="json")
    kube_api.deny("delete", "configmaps")
    with pytest.raises(KubeForbiddenError, match='cannot delete resource "configmaps"'):
        client.delete(f"{CM}/c")
    with pytest.raises(KubeError) as unsupported:
        client.request("PATCH", f"{CM}/c", body={}, content_type="text/plain")
    assert (unsupported.value.status, unsupported.value.reason) == (415, "UnsupportedMediaType")


def test_a_body_that_is_not_a_status_still_yields_a_typed_error() -> None:
    err = error_from_response(503, b"<html>busy</html>")
    assert isinstance(err, KubeServiceUnavailableError) and "busy" in str(err)
    err = error_from_response(504, b"")
    assert isinstance(err, KubeTimeoutError) and "504" in str(err)
    err = error_from_response(500, b'{"kind":"Status","code":500,"reason":"ServerTimeout"}')
    assert isinstance(err, KubeServerTimeoutError)


# --- transient classification (§10.1) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason", "message", "cls", "transient"),
    [
        (403, "Forbidden", "exceeded quota: pods, requested: cpu=1", KubeForbiddenError, True),
        (403, "Forbidden", "cannot create resource", KubeForbiddenError, False),
        (429, "TooManyRequests", "slow down", KubeTooManyRequestsError, True),
        (
            409,
            "Conflict",
            'Operation cannot be fulfilled on resourcequotas "q"',
            KubeConflictError,
            True,
        ),
        (409, "Conflict", "the object has been modified", KubeConflictError, False),
        (500, "InternalError", "resource quota evaluation timed out", KubeInternalError, True),
        (500, "InternalError", "something broke", KubeInternalError, False),
        (
            500,
            "ServerTimeout",
            "the server cannot complete the requested operation",
            KubeServerTimeoutError,
            True,
        ),
        (504, "Timeout", "request did not complete", KubeTimeoutError, True),
        (503, "ServiceUnavailable", "unavailable", KubeServiceUnavailableError, True),
        (404, "NotFound", "gone", KubeNotFoundError, False),
        (409, "AlreadyExists", "exists", KubeAlreadyExistsError, False),
    ],
)
def test_api_errors_are_transient_exactly_as_argo_says(  # noqa: PLR0917
    kube_api: FakeKube,
    tmp_path: Path,
    code: int,
    reason: str,
    message: str,
    cls: type[KubeError],
    transient: bool,
) -> None:
    kube_api.fault("GET", "configmaps", code, reason=reason, message=message)
    with pytest.raises(cls) as info:
        client_for(kube_api, tmp_path).get(CM)
    assert is_transient(info.value) is transient


def test_a_refused_connection_is_transient() -> None:
    client = KubeClient(KubeClientConfig(server=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(KubeConnectionError, match="Connection refused") as info:
        client.get(CM)
    assert is_transient(info.value)


def test_a_dropped_connection_is_transient(kube_api: FakeKube, tmp_path: Path) -> None:
    kube_api.fault("GET", "configmaps", drop=True)
    with pytest.raises(KubeConnectionError) as info:
        client_for(kube_api, tmp_path).get(CM)
    assert is_transient(info.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_read_timeout_is_transient(silent_server: int) -> None:
    client = KubeClient(KubeClientConfig(server=f"http://127.0.0.1:{silent_server}"))
    with pytest.raises(KubeConnectionError, match="timed out") as info:
        client.request("GET", CM, timeout=0.2)
    assert is_transient(info.value)


@pytest.mark.parametrize("phrase", TRANSIENT_MESSAGES)
def test_each_listed_message_is_transient_wherever_it_appears(phrase: str) -> None:
    assert is_transient(RuntimeError(f"kubectl failed: {phrase} (stderr)"))
    assert not is_transient(RuntimeError(f"kubectl failed: {phrase.upper()}x"))


def test_other_messages_and_plain_errors_are_not_transient() -> None:
    assert not is_transient(RuntimeError("no such host is allowed here"))
    assert not is_transient(ValueError("bad manifest"))


def test_a_wrapped_transient_cause_is_found() -> None:
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("upload failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


def test_explicit_marks_and_the_pattern_decide() -> None:
    assert is_transient(ArtifactError("x", code=ErrorCode.INTERNAL, transient=True))
    assert not is_transient(ArtifactError("connection reset by peer", code=ErrorCode.INTERNAL))
    assert is_transient(RuntimeError("weird flake 42"), pattern=r"flake \d+")
    assert not is_transient(RuntimeError("weird flake"), pattern=r"flake \d+")
    assert not is_transient(RuntimeError("weird flake"), pattern="(")
