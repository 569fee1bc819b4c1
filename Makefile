# Tessera — the two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
.PHONY: run test lint unit typecheck bench screenshots lock clean demo dist offline-kit test-dist fuzz

# Without a display it explains what to do and exits cleanly (0): nothing went wrong.
run: $(VENV)/.tessera-lock
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY$$QT_QPA_PLATFORM" ]; then \
	  echo "tessera: no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset)."; \
	  echo "tessera: run this on a desktop, or under a virtual one: xvfb-run -a make run;"; \
	  echo "tessera: for the command line without a window try: make demo"; \
	else $(VENV)/bin/tessera gui; fi

demo: $(VENV)/.tessera-lock
	$(VENV)/bin/tessera demo

test: $(VENV)/.tessera-lock lint unit

unit: $(VENV)/.tessera-lock
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

# The fuzz suite (tests/fuzz/) with many more, freshly random examples than `make test`
# runs; a failure prints the input that caused it.
fuzz: $(VENV)/.tessera-lock
	TESSERA_FUZZ=long QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider tests/fuzz

lint: $(VENV)/.tessera-lock
	$(VENV)/bin/ruff check app tests tools benchmarks packaging
	$(VENV)/bin/mypy

bench: $(VENV)/.tessera-lock
	for b in benchmarks/bench_*.py; do QT_QPA_PLATFORM=offscreen $(PY) $$b || exit 1; done

# The app as it really opens on a 1366x768 and a 1920x1080 screen (Xvfb + openbox),
# into docs/screenshots/.
screenshots: $(VENV)/.tessera-lock
	$(PY) scripts/screenshots.py

$(VENV)/.tessera-lock: requirements.lock pyproject.toml scripts/bootstrap.sh tests/interop/node/package-lock.json
	@bash scripts/bootstrap.sh

# Regenerate the hash-pinned locks after changing pyproject.toml (needs `uv`):
# requirements.lock (app + development), packaging/runtime.lock (the app's own dependency
# set, the same pins), packaging/build.lock (build-only tools for dist and offline-kit).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -c requirements.lock -o packaging/runtime.lock
	uv pip compile pyproject.toml packaging/build-requirements.in --generate-hashes --python-version 3.11 -c packaging/runtime.lock -o packaging/build.lock

# -- distribution (docs/PACKAGING.md) ---------------------------------------------------
# The build environment: the runtime dependencies plus build-only tools, from packaging/build.lock.
DIST_VENV := .venv-dist
$(DIST_VENV)/.tessera-build-lock: packaging/build.lock $(VENV)/.tessera-lock
	@[ -x $(DIST_VENV)/bin/python ] || $${PYTHON:-python3} -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r packaging/build.lock
	@sha256sum packaging/build.lock > $@

# The app build (PyInstaller, one folder): dist/tessera/tessera runs without Python.
dist: $(DIST_VENV)/.tessera-build-lock
	$(DIST_VENV)/bin/python packaging/kit.py dist --out dist

# The offline kit: dist/tessera-offline-kit-VERSION-linux-x86_64/ and its .tar.gz.
offline-kit: $(DIST_VENV)/.tessera-build-lock
	$(DIST_VENV)/bin/python packaging/kit.py kit --out dist

# Builds the kit and installs it with no network (unshare -n), reproducibility, SBOM.
test-dist: $(DIST_VENV)/.tessera-build-lock
	TESSERA_DIST_PYTHON=$(DIST_VENV)/bin/python QT_QPA_PLATFORM=offscreen \
	  $(PY) -m pytest -q -p no:cacheprovider packaging/tests

clean:
	rm -rf $(VENV) $(DIST_VENV) .mypy_cache .ruff_cache build dist app/*.egg-info
