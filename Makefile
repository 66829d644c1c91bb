# Every target builds on `install`; nothing outside this directory is needed beyond python3.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
CODE_DIRS := $(wildcard src tests bench)

.PHONY: install install-dev run migrate test lint typecheck clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# Bytecode is compiled at install, so a start (and a test run) does not compile every module it imports
# again where bytecode is not written (PYTHONDONTWRITEBYTECODE, read-only installs).
install: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --no-dev --compile-bytecode --python $(PYTHON)
	$(VENV)/bin/python -m compileall -q src

install-dev: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --compile-bytecode --python $(PYTHON)
	$(VENV)/bin/python -m compileall -q src

migrate: install
	$(VENV)/bin/mailservice migrate

run: install
	$(VENV)/bin/mailservice serve

lint: install-dev
	$(VENV)/bin/ruff check $(CODE_DIRS)
	$(VENV)/bin/ruff format --check $(CODE_DIRS)

typecheck: install-dev
	$(VENV)/bin/mypy

# Two test processes: a test mostly waits on sockets, the database and the processes it starts, so one process
# leaves a core idle. Each file runs whole in one process (its module-scoped servers start once), files in
# the order collected: the end-to-end files, few tests but long ones, start first instead of last.
# A test process that the test timeout ends ends the run: pytest-xdist, replacing it, can wait forever
# for tests that it gives to no process (its file-at-a-time scheduler after a crash).
TEST_PROCESSES ?= 2

test: lint typecheck
	$(VENV)/bin/pytest --numprocesses=$(TEST_PROCESSES) --dist=loadfile --no-loadscope-reorder --max-worker-restart=0

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
