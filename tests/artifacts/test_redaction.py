"""The redactor: registered secrets in every form they travel in, and credential headers that a
server quotes back, never reach a message or a log line."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import quote, quote_plus

import pytest

from artifacts.errors import ArtifactError
from artifacts.secrets import redact, register_basic_auth, register_secret


def fresh(prefix: str) -> str:
    """A value no other test registered (the registry is process-wide)."""
    return f"{prefix}/{secrets.token_urlsafe(9)}+é@:"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_secret_is_redacted_in_its_encoded_forms() -> None:
    value = fresh("pw")
    register_secret(value)
    forms = {
        "plain": value,
        "base64": b64(value),
        "base64 without padding": b64(value).rstrip("="),
        "url-encoded": quote(value, safe=""),
        "url-encoded path": quote(value),
        "form-encoded": quote_plus(value),
        "json-escaped": json.dumps(value)[1:-1],
    }
    for form, text in forms.items():
        assert redact(f"before {text} after") == "before *** after", form


def test_a_basic_auth_pair_is_redacted_as_the_header_carries_it() -> None:
    user, password = "deploy-bot", fresh("pw")
    register_basic_auth(user, password)
    header = b64(f"{user}:{password}")
    assert header not in redact(f"got {header} back")
    assert redact(f"user {user}:{password}") == "user ***"


def test_a_basic_credential_holding_a_registered_value_is_redacted_anywhere() -> None:
    # A pair nobody registered as such (e.g. assembled by a library from two secrets).
    password = fresh("pw")
    register_secret(password)
    token = b64(f"someone:{password}")
    assert redact(f"denied for Basic {token} (bad)") == "denied for Basic *** (bad)"
    assert redact(f"basic {token.rstrip('=')}") == "basic ***"


def test_basic_auth_as_prose_is_left_alone() -> None:
    text = "HTTP Basic: Access denied; basic auth from secrets 'git-creds'"
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("remote: Authorization: Basic dXNlcjpwYXNz", "remote: Authorization: ***"),
        ("authorization: Bearer eyJhbGciOi.x.y", "authorization: ***"),
        ("Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authorization: ***"),
        ("Cookie: session=abc123; csrf=xyz", "Cookie: ***"),
        ("Set-Cookie: id=a3fWa; Secure", "Set-Cookie: ***"),
        ('{"Authorization": "Bearer t0k3n", "A": "b"}', '{"Authorization": "***", "A": "b"}'),
        ("{'authorization': 'Bearer t0k3n'}", "{'authorization': '***'}"),
        ("map[Authorization:[Bearer t0k3n] Accept:[*/*]]", "map[Authorization:[***] Accept:[*/*]]"),
        ("X-Amz-Security-Token: FwoGZXIvYXdzEJr", "X-Amz-Security-Token: ***"),
        ("?X-Amz-Security-Token=FwoG%2Fx&X-Amz-Date=1", "?X-Amz-Security-Token=***&X-Amz-Date=1"),
        ("X-Api-Key: 12345abcdef", "X-Api-Key: ***"),
        ("Private-Token: glpat-xxxxxxxx", "Private-Token: ***"),
    ],
)  # fmt: skip
def test_credential_headers_quoted_by_a_server_lose_their_value(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'WWW-Authenticate: Basic realm="git"',
        "User-Agent: git/2.39.5",
        "Content-Type: text/plain",
        "authorization failed for the repository",
        "X-Cookie-Jar: kept",
    ],
)
def test_other_headers_and_prose_pass_unchanged(text: str) -> None:
    assert redact(text) == text


def test_an_artifact_error_is_redacted_when_made() -> None:
    error = ArtifactError("fetch failed: remote: Authorization: Bearer abc.def.ghi")
    assert "abc.def.ghi" not in str(error) and "abc.def.ghi" not in repr(error)
