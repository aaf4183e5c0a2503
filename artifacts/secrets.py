"""Secret resolution and redaction.

A ``SecretResolver`` turns a ``{name, key}`` selector into the secret's value. In a pod the
controller mounts secrets at ``/argo/secret/<name>/<key>`` (argo-contract.md §11.2), so the
directory resolver is the pod's resolver too; a Kubernetes-API resolver lives in ``argoexec.kube``.

Every value handed out is registered with the process-wide redactor; error messages and log lines
pass through :func:`redact`, which replaces any registered value with ``***``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: the log redaction filter must not import the models
    from argoexec.models import SecretKeySelector

REDACTED = "***"
_MIN_REDACT_LEN = 4  # shorter values would mangle ordinary text; they are still never logged alone

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Remember ``value`` (and its stripped form) so :func:`redact` hides it from now on."""
    with _lock:
        for candidate in (value, value.strip()):
            if len(candidate) >= _MIN_REDACT_LEN:
                _secrets.add(candidate)


def redact(text: str) -> str:
    """``text`` with every registered secret value replaced by ``***`` (longest first)."""
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
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
