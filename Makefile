# Tessera — the two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
.PHONY: run test lint unit typecheck bench screenshots lock clean demo

run: $(VENV)/.tessera-lock
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY$$QT_QPA_PLATFORM" ]; then \
	  echo "tessera: no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset)."; \
	  echo "tessera: run this on a desktop, or under a virtual one: xvfb-run -a make run;"; \
	  echo "tessera: for the command line without a window try: make demo"; exit 3; fi
	$(VENV)/bin/tessera gui

demo: $(VENV)/.tessera-lock
	$(VENV)/bin/tessera demo

test: $(VENV)/.tessera-lock lint unit

unit: $(VENV)/.tessera-lock
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

lint: $(VENV)/.tessera-lock
	$(VENV)/bin/ruff check app tests tools benchmarks
	$(VENV)/bin/mypy

bench: $(VENV)/.tessera-lock
	for b in benchmarks/bench_*.py; do QT_QPA_PLATFORM=offscreen $(PY) $$b || exit 1; done

# Every main screen and wizard page, at 100 % and 200 %, into docs/screenshots/.
screenshots: $(VENV)/.tessera-lock
	QT_QPA_PLATFORM=offscreen $(PY) scripts/screenshots.py --all-scales

$(VENV)/.tessera-lock: requirements.lock pyproject.toml scripts/bootstrap.sh tests/interop/node/package-lock.json
	@bash scripts/bootstrap.sh

# Regenerate the hash-pinned lock after changing pyproject.toml (needs `uv`).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache build app/*.egg-info
