# The two commands of the README: `make app` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8866
PYTEST_ARGS ?=

.PHONY: app serve-class lab test figures bench reproduce clean

# One stamp per extra: re-install when pyproject.toml changes.
$(VENV)/.stamp-%: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$*]"
	@touch $@

app: $(VENV)/.stamp-app
	$(PY) -m explorer serve --port $(PORT)

# A class: preheated kernels for STUDENTS visitors spread over the apps (it prints the memory
# the pools hold); stops cleanly on Ctrl-C or SIGTERM.
STUDENTS ?= 30
serve-class: $(VENV)/.stamp-app
	$(PY) -m explorer serve --port $(PORT) --students $(STUDENTS)

lab: $(VENV)/.stamp-lab
	$(VENV)/bin/jupyter lab notebooks/index.ipynb --ServerApp.ip=127.0.0.1

test: $(VENV)/.stamp-test
	@.ci/ensure-chromium
	$(PY) -m ruff check .
	$(PY) -m pytest tests explorer notebooks --nbmake --nbmake-timeout=300 -p no:cacheprovider $(PYTEST_ARGS)

figures: $(VENV)/.stamp-app
	$(PY) -m explorer figures --out figures

# Each paper's key results as pages with figures (minutes for SBM and NTK, most of an hour for
# the IQP training at 150 qubits); never part of `make test`.
reproduce: $(VENV)/.stamp-test
	$(PY) -m explorer reproduce all --out docs/reproductions

bench: $(VENV)/.stamp-test
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) figures test-artifacts .pytest_cache .ruff_cache
