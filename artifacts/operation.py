"""One artifact operation (save, load, list, delete): timed, its errors given context, and
logged as exactly one line on ``argoexec.artifacts`` (``artifact``, ``kind``, ``location``,
``bytes``, ``duration``, ``outcome``, ``attempts`` and ``error`` in ``extra``)."""

from __future__ import annotations

import contextlib
import logging
import time

from argoexec.models import Artifact
from artifacts.driver import ArtifactDriver, DriverContext
from artifacts.errors import ArtifactError
from artifacts.registry import driver_for

log = logging.getLogger("argoexec.artifacts")


class Operation:
    """Times one save/load, adds context to its errors and logs its one line."""

    def __init__(
        self, verb: str, artifact: Artifact, ctx: DriverContext, driver: ArtifactDriver | None
    ) -> None:
        self.verb = verb
        self.artifact = artifact
        self.ctx = ctx
        self.name = artifact.name
        self.driver = driver
        self.kind = driver.kind if driver is not None else artifact.location_kind() or ""
        self.location = ""
        self.bytes = 0
        self.attempts = 1
        self.outcome = "ok"
        self.reason = ""  # why an optional artifact was skipped
        self.started = time.monotonic()

    def bind(self) -> ArtifactDriver:
        if self.driver is None:
            self.driver = driver_for(self.artifact, self.ctx)
        self.kind = self.driver.kind
        try:
            self.location = self.driver.location(self.artifact)
        except ArtifactError:
            self.location = ""
        return self.driver

    def __enter__(self) -> Operation:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        error = None
        if isinstance(exc, ArtifactError) and not self.location and self.kind:
            # Failed before the driver was needed (e.g. a missing source): still say where to.
            with contextlib.suppress(ArtifactError):
                self.bind()
        if isinstance(exc, ArtifactError):
            exc.with_context(artifact=self.name, driver=self.kind or None, location=self.location)
            error = str(exc)
        elif exc is not None:
            error = f"{type(exc).__name__}: {exc}"
        outcome = "error" if exc is not None else self.outcome
        extra = {
            "artifact": self.name,
            "kind": self.kind,
            "location": self.location,
            "bytes": self.bytes,
            "duration": round(time.monotonic() - self.started, 3),
            "outcome": outcome,
            "attempts": self.attempts,
        }
        if error is not None:
            extra["error"] = error
        elif self.reason:
            extra["reason"] = self.reason
        log.log(logging.ERROR if error else logging.INFO, "%s artifact", self.verb, extra=extra)
