# psoas-break: `make run` sets up and starts the app, `make test` sets up and runs every check.
# The virtual environment uses the system Python with its site-packages, so Debian's python3-gi
# (only for the GTK/XEmbed tray fallbacks the tests cover; the default tray needs no GTK) and
# python3-dbus (plyer's notification path) are visible in it when installed.
SYSTEM_PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest venv system-deps-run system-deps-test icons icons-check bench clean \
	wayland-bindings wayland-bindings-check

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
	$(PY) -m ruff check psoas_break icons .ci tests $(wildcard bench)

typecheck: $(STAMP)
	$(PY) -m mypy

# Most real-desktop tests wait on processes and buses, so three workers finish the suite in
# about a third of the time even on a busy 2-core machine; tests of one module share a worker
# (module-scoped desktops). A short, fresh base folder per run: AF_UNIX socket paths inside
# it must stay under 108 bytes, and two runs must never clean up each other's folders.
TEST_JOBS ?= 3
pytest: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadscope --basetemp="$$(mktemp -d /tmp/pbt-XXXXXX)"

bench: system-deps-test $(STAMP)
	$(PY) bench/run_all.py

# Regenerate the exercise illustrations in icons/exercises/ (deterministic; tests compare them).
# The generator is a repository tool (icons/generator/), not part of the installed package.
icons: $(STAMP)
	$(PY) -m icons.generator

icons-check: $(STAMP)
	$(PY) -m icons.generator --check

# Regenerate the pywayland bindings beside their vendored XML (psoas_break/adapters/wayland/
# protocols/, and the tests' fake input); tests/test_wayland_bindings.py runs the check.
wayland-bindings: $(STAMP)
	$(PY) .ci/wayland_bindings.py

wayland-bindings-check: $(STAMP)
	$(PY) .ci/wayland_bindings.py --check

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# README pictures into icons/screenshots/ from the real app on a headless desktop (about 30 s;
# needs Debian's chromium besides the test packages: see tests/desktop/screenshots.py).
.PHONY: screenshots
screenshots: system-deps-test $(STAMP)
	$(PY) -m tests.desktop.screenshots

# Translations (GNU gettext tools; Debian package "gettext"). `make pot` re-extracts every
# _()/N_()/ngettext() string into the template and merges it into each language's .po;
# `make mo` compiles the .po files. The compiled .mo files are committed, so `make run` needs
# no gettext tools; tests/test_i18n.py checks the .pot, .po and .mo agree with the source.
LOCALE_DIR := psoas_break/locale
POT := $(LOCALE_DIR)/psoas-break.pot
PO_FILES := $(wildcard $(LOCALE_DIR)/*/LC_MESSAGES/psoas-break.po)

.PHONY: pot mo

# The exercise texts come from psoas_break/data/exercises.toml (.ci/exercise_pot.py: xgettext
# cannot read TOML) and are merged after the code's messages with msgcat.
EXTRACT_PY := $(if $(wildcard $(PY)),$(PY),python3)

pot:
	xgettext --language=Python --from-code=UTF-8 --keyword=_ --keyword=N_ \
		--keyword=ngettext:1,2 --add-comments=TRANSLATORS: --sort-by-file --add-location=file \
		--package-name=psoas-break \
		--output=$(POT).code.tmp $$(find psoas_break -name '*.py' | LC_ALL=C sort)
	$(EXTRACT_PY) .ci/exercise_pot.py $(POT).exercises.tmp
	msgcat --use-first --add-location=file --output-file=$(POT) $(POT).code.tmp \
		$(POT).exercises.tmp
	@rm -f $(POT).code.tmp $(POT).exercises.tmp
	@for po in $(PO_FILES); do \
		msgmerge --quiet --update --backup=none "$$po" $(POT) && echo "merged $$po"; \
	done

mo:
	@for po in $(PO_FILES); do \
		msgfmt --check --output-file="$${po%.po}.mo" "$$po" && echo "compiled $${po%.po}.mo"; \
	done
