"""Which URL and which credentials an HTTP or Artifactory artifact uses (argo-contract.md §12.4).

Argo picks one HTTP client per artifact: an OAuth2 client-credentials client when all three OAuth2
secrets are set, a client-certificate client *instead* when both certificate secrets are set, the
default client otherwise; HTTP basic auth is added only when both username and password are
non-empty (Artifactory artifacts carry only basic-auth secrets). This module resolves those secrets
into a :class:`Credentials` value and describes the choice without ever showing a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from argoexec.models import (
    Artifact,
    ArtifactoryArtifact,
    HTTPArtifact,
    OAuth2Auth,
    SecretKeySelector,
)
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import REDACTED, SecretNotFoundError, SecretResolver, register_basic_auth

EITHER_OR = "Either Artifactory or HTTP artifact needs to be configured"


@dataclass(frozen=True)
class HTTPTarget:
    """The location half of an artifact: the set location field and its URL."""

    kind: str  # "http" or "artifactory": which location field is set
    url: str
    headers: tuple[tuple[str, str], ...]
    http: HTTPArtifact | None
    artifactory: ArtifactoryArtifact | None

    @property
    def location(self) -> str:
        return redact_url(self.url)

    @property
    def key(self) -> str:
        """Argo's key for HTTP/Artifactory artifacts is the URL path."""
        return urlsplit(self.url).path

    @property
    def save_stream_via_file(self) -> bool:
        return bool(self.http is not None and self.http.save_stream_via_file)


def target_of(artifact: Artifact) -> HTTPTarget:
    """The HTTP target; exactly one of ``http``/``artifactory`` must be set, as in Argo."""
    if artifact.http is not None and artifact.artifactory is None:
        headers = tuple((h.name, h.value) for h in artifact.http.headers or ())
        return HTTPTarget("http", artifact.http.url, headers, artifact.http, None)
    if artifact.artifactory is not None and artifact.http is None:
        return HTTPTarget("artifactory", artifact.artifactory.url, (), None, artifact.artifactory)
    raise ArtifactError(EITHER_OR, code=ErrorCode.BAD_REQUEST)


def redact_url(url: str) -> str:
    """``url`` without userinfo or fragment and with every query value replaced by ``***``.

    Pre-signed URLs carry their signature in the query string, so a URL is never shown as given.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(f"{k}={REDACTED}" if v else k for k, v in pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@dataclass(frozen=True)
class OAuth2Credentials:
    client_id: str
    client_secret: str
    token_url: str
    scopes: tuple[str, ...]
    endpoint_params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Credentials:
    """Resolved secret values for one operation. Never printed: see :func:`describe`."""

    basic: tuple[str, str] | None = None
    oauth2: OAuth2Credentials | None = None
    client_cert: tuple[str, str] | None = None  # (certificate PEM, private key PEM)
    description: str = "anonymous"

    def __repr__(self) -> str:
        return f"Credentials({self.description})"


def _secret(resolver: SecretResolver, selector: SecretKeySelector | None) -> str:
    """The secret's value; "" when no selector is given or an optional secret is absent."""
    if selector is None:
        return ""
    try:
        return resolver.resolve(selector)
    except SecretNotFoundError as exc:
        if selector.optional:
            return ""
        raise ArtifactError(str(exc), code=ErrorCode.BAD_REQUEST) from exc


def _name(selector: SecretKeySelector | None) -> str:
    if selector is None:
        return "?"
    return f"{selector.name!r} ({selector.key})"


def _basic(
    resolver: SecretResolver,
    user_sel: SecretKeySelector | None,
    password_sel: SecretKeySelector | None,
) -> tuple[tuple[str, str] | None, str]:
    user, password = _secret(resolver, user_sel), _secret(resolver, password_sel)
    if not (user and password):
        return None, ""
    register_basic_auth(user, password)
    return (user, password), f"basic auth from secrets {_name(user_sel)}, {_name(password_sel)}"


def _oauth2(
    resolver: SecretResolver, spec: OAuth2Auth | None
) -> tuple[OAuth2Credentials | None, str]:
    if spec is None:
        return None, ""
    selectors = (spec.client_id_secret, spec.client_secret_secret, spec.token_url_secret)
    if any(s is None for s in selectors):
        return None, ""
    client_id, client_secret, token_url = (_secret(resolver, s) for s in selectors)
    if not (client_id and client_secret and token_url):
        return None, ""
    register_basic_auth(client_id, client_secret)  # how the token endpoint is asked
    params = tuple((p.key, p.value or "") for p in spec.endpoint_params or ())
    creds = OAuth2Credentials(
        client_id, client_secret, token_url.strip(), tuple(spec.scopes or ()), params
    )
    what = (
        f"OAuth2 client credentials (token URL from secret {_name(spec.token_url_secret)}, "
        f"client from secrets {_name(spec.client_id_secret)}, {_name(spec.client_secret_secret)})"
    )
    return creds, what


def _client_cert(
    resolver: SecretResolver, artifact: HTTPArtifact
) -> tuple[tuple[str, str] | None, str]:
    spec = artifact.auth.client_cert if artifact.auth else None
    if spec is None or spec.client_cert_secret is None or spec.client_key_secret is None:
        return None, ""
    cert, key = (
        _secret(resolver, spec.client_cert_secret),
        _secret(resolver, spec.client_key_secret),
    )
    if not (cert and key):
        return None, ""
    what = (
        f"client certificate from secret {_name(spec.client_cert_secret)} "
        f"with key from secret {_name(spec.client_key_secret)}"
    )
    return (cert, key), what


def resolve_credentials(target: HTTPTarget, resolver: SecretResolver) -> Credentials:
    """Resolve every secret the target names and pick Argo's client for it."""
    if target.artifactory is not None:
        art = target.artifactory
        basic, what = _basic(resolver, art.username_secret, art.password_secret)
        return Credentials(basic=basic, description=what or "anonymous")
    assert target.http is not None
    auth = target.http.auth
    basic, basic_what = (None, "")
    if auth is not None and auth.basic_auth is not None:
        spec = auth.basic_auth
        basic, basic_what = _basic(resolver, spec.username_secret, spec.password_secret)
    cert, cert_what = _client_cert(resolver, target.http)
    oauth2, oauth2_what = (None, "") if cert else _oauth2(resolver, auth.oauth2 if auth else None)
    # A bearer token from OAuth2 wins over basic auth on the same request, as in Go's oauth2
    # transport, which sets Authorization after the request was built.
    if oauth2 is not None:
        basic, basic_what = None, ""
    parts = [p for p in (cert_what, oauth2_what, basic_what) if p]
    description = " + ".join(parts) or "anonymous"
    if target.headers:
        description += f"; headers {', '.join(name for name, _ in target.headers)}"
    return Credentials(basic, oauth2, cert, description)
