# The two commands of the README: `make app` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8866
PYTEST_ARGS ?=

.PHONY: app serve-class lab test figures bench load reproduce clean

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
reproduce: $(VENV)/.stamp-reproduce
	$(PY) -m explorer reproduce all --out docs/reproductions

# Every budget of the issues with its measured figure and its floor timed in the same run, the
# browser and load tables and the peers (when `make bench-peers` made their environments), in
# BENCHMARKS.md (many minutes on 2 cores; never part of `make test`).
bench: $(VENV)/.stamp-test
	@.ci/ensure-chromium
	$(PY) benchmarks/report.py --out BENCHMARKS.md

# A class arriving at once: 1, 9 and 30 browser sessions against one server with pools sized
# for them and warm, plus idle kernels culled (bounded; writes test-artifacts/load.md).
SESSIONS ?= 1 9 30
load: $(VENV)/.stamp-test
	@.ci/ensure-chromium
	$(PY) benchmarks/load_voila.py --sessions $(SESSIONS) --cull

# The peer libraries, each in its own environment from PyPI (pinned): PennyLane's IQP tools
# (plus iqpopt when its source is at IQPOPT_SRC or GitHub is reachable: it is not on PyPI) and
# neural-tangents (its last release imports only with jax 0.4.30 and tensorflow-cpu 2.18).
PEERS_PL ?= .venv-peers-pennylane
PEERS_NT ?= .venv-peers-nt
IQPOPT_SRC ?=
bench-peers:
	@test -x $(PEERS_PL)/bin/python || $(PYTHON) -m venv $(PEERS_PL)
	$(PEERS_PL)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_PL)/bin/python -m pip install --quiet -r benchmarks/peers/requirements-pennylane.txt
	@if [ -n "$(IQPOPT_SRC)" ]; then $(PEERS_PL)/bin/python -m pip install --quiet "$(IQPOPT_SRC)"; \
	else $(PEERS_PL)/bin/python -m pip install --quiet "git+https://github.com/XanaduAI/iqpopt.git" \
	|| echo "iqpopt not installed: clone XanaduAI/iqpopt and run make bench-peers IQPOPT_SRC=<clone>"; fi
	@test -x $(PEERS_NT)/bin/python || $(PYTHON) -m venv $(PEERS_NT)
	$(PEERS_NT)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_NT)/bin/python -m pip install --quiet -r benchmarks/peers/requirements-nt.txt

clean:
	rm -rf $(VENV) figures test-artifacts .pytest_cache .ruff_cache
