# Two entry points on a fresh Debian machine: `make demo` and `make test`.
# Both bootstrap .venv (and the Debian packages the renderers need) first.
SHELL := /bin/bash
PY := .venv/bin/python
VERM := .venv/bin/verm
APT_PACKAGES := chromium bubblewrap libcairo2 libseccomp2 fonts-dejavu-core fonts-liberation
STAMP := .venv/.installed

.PHONY: demo test test-fast bench system-deps venv icons clean

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0  # first: the local CPU wheel (machine notes)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@if $(PY) -m pip show torchvision >/dev/null 2>&1; then $(PY) -m pip uninstall -y -q torchvision torchaudio torchcodec; fi
	@touch $(STAMP)

venv: system-deps $(STAMP)

demo: venv
	$(VERM) pipeline run --local --run-dir runs/demo

# Real icon packages for the SVG tests, fetched once with npm (pinned versions; the tests themselves stay offline).
icons: venv
	@$(PY) -m tests.icons fetch

test: venv icons
	$(PY) -m pytest -q

test-fast: venv icons
	$(PY) -m pytest -q -m "not slow"

bench: venv
	$(VERM) bench render --workers 2 --json runs/bench-render.json

clean:
	rm -rf .venv runs .pytest_cache
