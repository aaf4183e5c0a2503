"""Example workflows run once per test session through ``argoexec run`` (on first use)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.controller.test_examples import EXAMPLES, Run, run_workflow


@pytest.fixture(scope="session")
def example_runs() -> dict[str, Run]:
    return {}


@pytest.fixture
def example(
    example_runs: dict[str, Run],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Run]:
    """``example("steps")``: the finished run of examples/workflows/steps.yaml (its Workflow
    and state directory), run by the first test that asks (in that test's clean env)."""

    def run(stem: str) -> Run:
        if stem not in example_runs:
            state = tmp_path_factory.mktemp(f"state-{stem}")
            example_runs[stem] = run_workflow(capsys, monkeypatch, state, EXAMPLES / f"{stem}.yaml")
        return example_runs[stem]

    return run
