"""Secret resolution and redaction.

A ``SecretResolver`` turns a ``{name, key}`` selector into the secret's value. In a pod the
controller mounts secrets at ``/argo/secret/<name>/<key>`` (argo-contract.md §11.2), so the
directory resolver is the pod's resolver too; a Kubernetes-API resolver lives in ``argoexec.kube``.

Every value handed out is registered with the process-wide redactor; error messages and log lines
pass through :func:`redact`, which

* replaces every registered value with ``***`` — and its encoded forms too (base64, URL-encoded,
  JSON-escaped), plus the ``user:password`` pairs (and their base64: an ``Authorization: Basic``
  header) that drivers register with :func:`register_basic_auth`;
* replaces a ``Basic <base64>`` credential whose decoded form holds a registered value;
* trims the value of credential headers (``Authorization``, ``Proxy-Authorization``, ``Cookie``,
  ``X-Amz-Security-Token`` ...) wherever a text quotes them, whatever their value: some servers
  echo the request's headers in their error bodies, and a bearer token minted at run time (a
  cloud SDK's access token) was never registered.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:  # annotations only: the log redaction filter must not import the models
    from argoexec.models import SecretKeySelector

REDACTED = "***"
_MIN_REDACT_LEN = 4  # shorter values would mangle ordinary text; they are still never logged alone


class _Registry:
    """The registered values, and the same longest first (what :func:`redact` walks)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: set[str] = set()
        self.ordered: tuple[str, ...] = ()

    def add(self, values: set[str]) -> None:
        with self.lock:
            self.values.update(v for v in values if len(v) >= _MIN_REDACT_LEN)
            self.ordered = tuple(sorted(self.values, key=len, reverse=True))


_registry = _Registry()

# Request headers that carry credentials; their values never reach a message or a log.
CREDENTIAL_HEADERS = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-signature",
    "x-api-key",
    "x-auth-token",
    "private-token",
    "x-vault-token",
)
_COOKIE_HEADERS = ("cookie", "set-cookie")


def _header_pattern(names: tuple[str, ...], value: str) -> re.Pattern[str]:
    # `Name: value` (a header line, or "remote: Name: value" from git), `"Name": "value"` (JSON,
    # Python reprs), `Name:[value]` (Go's header maps), `Name=value` (query strings).
    return re.compile(
        r"(?i)(?<![\w-])(" + "|".join(map(re.escape, names)) + r")"
        r"([\"']?[ \t]*[:=][ \t]*\[?[\"']?)(" + value + ")"
    )


@functools.cache
def _header_values() -> tuple[re.Pattern[str], ...]:
    # A cookie header's value runs to the end of the line (`a=1; b=2`); any other ends at `;`
    # or `&` too (where git joins lines, or a query string goes on). Compiled on first use:
    # compiling costs ~3 ms, which every executor start would pay otherwise.
    others = tuple(h for h in CREDENTIAL_HEADERS if h not in _COOKIE_HEADERS)
    return (
        _header_pattern(_COOKIE_HEADERS, r"[^\"'\]\r\n]+"),
        _header_pattern(others, r"[^\"'\]\r\n&;]+"),
    )


@functools.cache
def _header_line() -> re.Pattern[str]:
    names = "|".join(map(re.escape, CREDENTIAL_HEADERS))
    return re.compile(r"(?i)^[ \t]*(?:remote:[ \t]*)?(?:" + names + r")[ \t]*:")


_BASIC = r"(?i)\b(basic[ \t]+)([A-Za-z0-9+/_-]{4,}={0,2})"


def _encodings(value: str) -> set[str]:
    """The forms in which ``value`` may appear in a text besides itself."""
    raw = value.encode("utf-8", "surrogateescape")
    b64 = base64.b64encode(raw).decode()
    return {
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


def register_secret(value: str) -> None:
    """Remember ``value`` (its stripped form, and the encodings of both) so :func:`redact`
    hides it from now on."""
    found: set[str] = set()
    for candidate in {value, value.strip()}:
        if len(candidate) >= _MIN_REDACT_LEN:
            found |= {candidate} | _encodings(candidate)
    _registry.add(found)


def register_basic_auth(username: str, password: str) -> None:
    """Remember the pair sent as HTTP basic auth: the password, ``user:password`` and the
    ``Authorization: Basic`` value made of it (base64 of the pair does not contain the base64 of
    either half). A user name alone is a secret only if it came from one (its resolver says so)."""
    register_secret(password)
    if username or password:
        register_secret(f"{username}:{password}")


def _secret_basic(match: re.Match[str]) -> str:
    try:
        decoded = base64.b64decode(match.group(2) + "==", validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return match.group(0)
    if ":" in decoded and any(value in decoded for value in _registry.ordered):
        return match.group(1) + REDACTED
    return match.group(0)


def quotes_credential_header(line: str) -> bool:
    """Whether ``line`` is a credential header (``Authorization: ...``, or git's ``remote:
    Authorization: ...`` when it prints a server's body): such lines are dropped from a
    server's error text before it becomes a message."""
    return _header_line().match(line) is not None


def redact(text: str) -> str:
    """``text`` without credential header values and registered secrets (see the module)."""
    for pattern in _header_values():
        text = pattern.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    values = _registry.ordered
    if values:
        text = re.sub(_BASIC, _secret_basic, text)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class SecretNotFoundError(LookupError):
    """The selector names a secret or key that the resolver does not have."""

    def __init__(self, selector: SecretKeySelector, where: str) -> None:
        super().__init__(f"secret {selector.name!r} key {selector.key!r} not found in {where}")
        self.selector = selector


class SecretResolver(Protocol):
    def resolve(self, selector: SecretKeySelector) -> str:
        """The value of ``selector``; raises :class:`SecretNotFoundError` if it is missing."""
        ...


class DirSecretResolver:
    """Secrets laid out as ``ROOT/<secret name>/<key>`` (the pod's ``/argo/secret`` layout).

    Files are read on every call, never cached, so a rotated secret (e.g. a refreshed token in a
    projected volume) is picked up by the next operation.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, selector: SecretKeySelector) -> str:
        path = self.root / selector.name / selector.key
        if not selector.name or not selector.key or not path.is_file():
            raise SecretNotFoundError(selector, str(self.root))
        value = path.read_text(encoding="utf-8")
        register_secret(value)
        return value


class MappingSecretResolver:
    """Secrets from a mapping ``{secret name: {key: value}}`` (inline values, env, tests)."""

    def __init__(self, data: Mapping[str, Mapping[str, str]]) -> None:
        self.data = data
        for keys in data.values():
            for value in keys.values():
                register_secret(value)

    def resolve(self, selector: SecretKeySelector) -> str:
        try:
            return self.data[selector.name][selector.key]
        except KeyError:
            raise SecretNotFoundError(selector, "the given secrets") from None


class ChainSecretResolver:
    """The first resolver that has the secret wins."""

    def __init__(self, *resolvers: SecretResolver) -> None:
        self.resolvers = resolvers

    def resolve(self, selector: SecretKeySelector) -> str:
        for resolver in self.resolvers:
            try:
                return resolver.resolve(selector)
            except SecretNotFoundError:
                continue
        raise SecretNotFoundError(selector, "any configured secret source")


class NoSecrets:
    """A resolver with no secrets at all (anonymous access only)."""

    def resolve(self, selector: SecretKeySelector) -> str:
        raise SecretNotFoundError(selector, "no secret source (use --secrets-dir)")
