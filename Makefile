# psoas-break: `make run` sets up and starts the app, `make test` sets up and runs every check.
# The virtual environment uses the system Python so Debian's python3-gi and python3-dbus
# (GTK/AppIndicator bindings, plyer's preferred notification path) are visible in it.
SYSTEM_PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest venv system-deps-run system-deps-test icons icons-check bench clean

run: system-deps-run $(STAMP)
	$(PY) -m psoas_break run

test: system-deps-test $(STAMP) lint typecheck pytest

system-deps-run:
	@bash .ci/system-deps run || echo "make run: continuing; the app falls back where a package is missing"

system-deps-test:
	@bash .ci/system-deps test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check psoas_break tests $(wildcard bench)

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest -q

bench: system-deps-test $(STAMP)
	$(PY) bench/run_all.py

# Regenerate the exercise illustrations in icons/exercises/ (deterministic; tests compare them).
icons: $(STAMP)
	$(PY) -m psoas_break.illustration.generate

icons-check: $(STAMP)
	$(PY) -m psoas_break.illustration.generate --check

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
