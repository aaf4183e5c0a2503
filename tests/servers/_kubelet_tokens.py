"""Service-account tokens the fake API server accepts, for the node agent (``kubelet.py``).

The fake's own ``tokens`` (token → user name) and ``add_token(user)`` are used when it has them.
A fake without them gets a ``tokens`` dict and a shim around its ``user`` method that looks the
bearer token up there first; `Tokens.uninstall` removes both again (the fake outlives the test).
A token is revoked with its pod, as a bound service-account token dies with the pod it is
bound to.
"""

from __future__ import annotations

import secrets
from typing import Any


class Tokens:
    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self._shimmed = False

    def install(self) -> None:
        if hasattr(self.fake, "tokens"):
            return
        fake, original = self.fake, self.fake.user
        fake.tokens = {}

        def user(handler: Any) -> str | None:
            auth = handler.headers.get("Authorization", "")
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
            known: dict[str, str] = fake.tokens
            return known[token] if token in known else original(handler)

        fake.user = user
        self._shimmed = True

    def uninstall(self) -> None:
        if self._shimmed:
            del self.fake.user
            del self.fake.tokens
            self._shimmed = False

    def issue(self, user: str) -> str:
        """A new token the API server takes as ``user``."""
        add = getattr(self.fake, "add_token", None)
        if add is not None:
            return str(add(user))
        token = f"kubelet-sa-{secrets.token_urlsafe(24)}"
        self.fake.tokens[token] = user
        return token

    def revoke(self, token: str) -> None:
        getattr(self.fake, "tokens", {}).pop(token, None)
