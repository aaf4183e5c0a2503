"""The objects ``kubectl apply -k manifests/`` sends, shared by the manifest tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cluster.kustomize import build

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


@pytest.fixture(scope="session")
def objects() -> list[dict[str, Any]]:
    """The built manifests (tests must not change them: they are shared)."""
    return build(MANIFESTS)
