"""The Kubernetes secret reader against the loopback fake API server."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from argoexec.kube.secrets import (
    KubeAPIError,
    KubeConfigError,
    KubeOverrides,
    KubeSecretResolver,
    load_kubeconfig,
)
from argoexec.models import SecretKeySelector
from artifacts.secrets import SecretNotFoundError, redact
from tests.servers.kube import FakeKube


def sel(name: str, key: str) -> SecretKeySelector:
    return SecretKeySelector(name=name, key=key)


def resolver(path: Path, **overrides: object) -> KubeSecretResolver:
    return KubeSecretResolver(load_kubeconfig([path], KubeOverrides(**overrides)))  # type: ignore[arg-type]


def test_a_secret_key_is_read_with_a_bearer_token(kube_api: FakeKube, tmp_path: Path) -> None:
    kube_api.add_secret("default", "my-s3", {"accessKey": "AKIA-test", "secretKey": "s3cr3t-value"})
    config = kube_api.kubeconfig(tmp_path / "config", token=kube_api.token)
    r = resolver(config)
    assert r.resolve(sel("my-s3", "secretKey")) == "s3cr3t-value"
    assert r.resolve(sel("my-s3", "accessKey")) == "AKIA-test"
    assert kube_api.journal[0][:2] == ("GET", "/api/v1/namespaces/default/secrets/my-s3")
    assert len(kube_api.journal) == 1, "one secret is fetched once per resolver"


def test_resolved_values_and_the_token_are_redacted(kube_api: FakeKube, tmp_path: Path) -> None:
    kube_api.add_secret("default", "creds", {"password": "hunter2-very-secret"})
    r = resolver(kube_api.kubeconfig(tmp_path / "config", token=kube_api.token))
    value = r.resolve(sel("creds", "password"))
    assert redact(f"pw={value} token={kube_api.token}") == "pw=*** token=***"


def test_the_namespace_comes_from_the_context_unless_overridden(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    kube_api.add_secret("team-a", "s", {"k": "from-team-a"})
    kube_api.add_secret("team-b", "s", {"k": "from-team-b"})
    config = kube_api.kubeconfig(tmp_path / "config", token=kube_api.token, namespace="team-a")
    assert resolver(config).resolve(sel("s", "k")) == "from-team-a"
    assert resolver(config, namespace="team-b").resolve(sel("s", "k")) == "from-team-b"


def test_without_a_namespace_the_default_namespace_is_used(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    kube_api.add_secret("default", "s", {"k": "v-default"})
    config = kube_api.kubeconfig(tmp_path / "config", token=kube_api.token, namespace=None)
    assert resolver(config).resolve(sel("s", "k")) == "v-default"


def test_a_missing_secret_is_not_found(kube_api: FakeKube, tmp_path: Path) -> None:
    r = resolver(kube_api.kubeconfig(tmp_path / "config", token=kube_api.token))
    with pytest.raises(SecretNotFoundError, match="'nope'"):
        r.resolve(sel("nope", "k"))


def test_a_missing_key_in_an_existing_secret_is_not_found(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    kube_api.add_secret("default", "s", {"k": "v-1234"})
    r = resolver(kube_api.kubeconfig(tmp_path / "config", token=kube_api.token))
    with pytest.raises(SecretNotFoundError, match="'other'"):
        r.resolve(sel("s", "other"))


def test_a_forbidden_secret_is_a_clear_error(kube_api: FakeKube, tmp_path: Path) -> None:
    kube_api.add_secret("default", "locked", {"k": "v-1234"})
    kube_api.forbid("default", "locked")
    r = resolver(kube_api.kubeconfig(tmp_path / "config", token=kube_api.token))
    with pytest.raises(KubeAPIError, match=r"Forbidden.*cannot get resource") as info:
        r.resolve(sel("locked", "k"))
    assert info.value.code == 403


def test_a_wrong_token_is_unauthorized(kube_api: FakeKube, tmp_path: Path) -> None:
    kube_api.add_secret("default", "s", {"k": "v-1234"})
    r = resolver(kube_api.kubeconfig(tmp_path / "config", token="wrong-token"))
    with pytest.raises(KubeAPIError, match="Unauthorized") as info:
        r.resolve(sel("s", "k"))
    assert info.value.code == 401


def test_a_token_file_is_read_relative_to_the_kubeconfig(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    kube_api.add_secret("default", "s", {"k": "v-file"})
    (tmp_path / "token").write_text(kube_api.token + "\n")
    config = kube_api.kubeconfig(tmp_path / "config", user={"tokenFile": "token"})
    assert resolver(config).resolve(sel("s", "k")) == "v-file"


def test_a_token_override_replaces_the_kubeconfig_user(kube_api: FakeKube, tmp_path: Path) -> None:
    kube_api.add_secret("default", "s", {"k": "v-override"})
    config = kube_api.kubeconfig(tmp_path / "config", token="stale")
    assert resolver(config, token=kube_api.token).resolve(sel("s", "k")) == "v-override"


def test_tls_with_the_ca_from_the_kubeconfig(kube_api_tls: FakeKube, tmp_path: Path) -> None:
    kube_api_tls.add_secret("default", "s", {"k": "v-tls"})
    config = kube_api_tls.kubeconfig(tmp_path / "config", token=kube_api_tls.token)
    assert resolver(config).resolve(sel("s", "k")) == "v-tls"


def test_tls_without_the_ca_fails_verification(kube_api_tls: FakeKube, tmp_path: Path) -> None:
    config = kube_api_tls.kubeconfig(tmp_path / "config", token=kube_api_tls.token, ca=False)
    with pytest.raises(KubeAPIError, match="CERTIFICATE_VERIFY_FAILED"):
        resolver(config).resolve(sel("s", "k"))


def test_insecure_skip_tls_verify_accepts_an_unknown_ca(
    kube_api_tls: FakeKube, tmp_path: Path
) -> None:
    kube_api_tls.add_secret("default", "s", {"k": "v-insecure"})
    config = kube_api_tls.kubeconfig(tmp_path / "config", token=kube_api_tls.token, insecure=True)
    assert resolver(config).resolve(sel("s", "k")) == "v-insecure"


def test_a_client_certificate_authenticates_without_a_token(
    kube_api_tls: FakeKube, tmp_path: Path
) -> None:
    kube_api_tls.add_secret("default", "s", {"k": "v-mtls"})
    config = kube_api_tls.kubeconfig(tmp_path / "config", client_cert=True)
    assert resolver(config).resolve(sel("s", "k")) == "v-mtls"
    assert kube_api_tls.journal[-1][2] == "argoexec-client"


def test_binary_values_that_are_not_utf8_are_reported(kube_api: FakeKube, tmp_path: Path) -> None:
    kube_api.add_secret("default", "bin", {"k": b"\xff\xfe\x00"})
    r = resolver(kube_api.kubeconfig(tmp_path / "config", token=kube_api.token))
    with pytest.raises(KubeAPIError, match="not valid base64 UTF-8"):
        r.resolve(sel("bin", "k"))


def test_a_kubeconfig_without_a_server_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(KubeConfigError, match="no API server"):
        load_kubeconfig([tmp_path / "config"])


def test_an_unknown_context_is_a_config_error(kube_api: FakeKube, tmp_path: Path) -> None:
    config = kube_api.kubeconfig(tmp_path / "config", token=kube_api.token)
    with pytest.raises(KubeConfigError, match="'elsewhere'"):
        load_kubeconfig([config], KubeOverrides(context="elsewhere"))


def test_the_first_kubeconfig_file_wins_when_merging(kube_api: FakeKube, tmp_path: Path) -> None:
    first = kube_api.kubeconfig(tmp_path / "first", token=kube_api.token, namespace="ns-first")
    second = tmp_path / "second"
    second.write_text(first.read_text().replace("ns-first", "ns-second"))
    merged = load_kubeconfig([tmp_path / "missing", first, second])
    assert merged.namespace == "ns-first"


def test_the_config_repr_never_shows_credentials(kube_api: FakeKube, tmp_path: Path) -> None:
    config = load_kubeconfig([kube_api.kubeconfig(tmp_path / "c", token=kube_api.token)])
    assert kube_api.token not in repr(config)
    assert base64.b64encode(kube_api.token.encode()).decode() not in repr(config)
