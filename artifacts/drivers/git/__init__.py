"""Git artifacts (input only): ``GitDriver`` clones a repository into the artifact's path."""

from __future__ import annotations

from artifacts.drivers.git.driver import GitDriver

__all__ = ["GitDriver"]
