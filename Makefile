# Two commands for a new user: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch is pinned here (a CPU build is on the project's machines) and installed before the package, so pip
# never resolves `torch>=2.4` on its own and pulls gigabytes of CUDA wheels. pyproject keeps torch unbounded.
TORCH_SPEC ?= torch==2.13.0
DATA ?=
PYTEST_ARGS ?=

.PHONY: setup demo test test-all test-min bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(PY) -m seqgen.demo $(if $(DATA),--data "$(DATA)")

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest -m "" $(PYTEST_ARGS)

# The fast suite against the lowest versions pyproject declares: a second venv, .venv-min, with the pins of
# constraints-min.txt. torch goes in first, as in .venv (no CPU build of an older torch is on the project's
# machines, so it is the same torch here). The venv is built afresh whenever pyproject or the pins change.
VENV_MIN := .venv-min
PY_MIN := $(VENV_MIN)/bin/python
TORCH_MIN_SPEC ?= $(TORCH_SPEC)

$(VENV_MIN)/.installed: pyproject.toml constraints-min.txt
	$(PYTHON) -m venv --clear $(VENV_MIN)
	$(PY_MIN) -m pip install -q "$(TORCH_MIN_SPEC)"
	$(PY_MIN) -m pip install -q -e ".[dev]" -c constraints-min.txt
	touch $@

test-min: $(VENV_MIN)/.installed
	$(PY_MIN) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/sampling.py
	$(PY) benchmarks/bleu_speed.py
	$(PY) benchmarks/objective_step.py
	$(PY) benchmarks/compare_speed.py

# The import rules of the layout (../shared/tools/layers.json): ruled-out imports between parts and cycles.
LAYERS ?= ../shared/tools/layers.py

lint: setup
	$(VENV)/bin/ruff check seqgen tests benchmarks recipes
	$(VENV)/bin/ruff format --check seqgen tests benchmarks recipes
	@if [ -f $(LAYERS) ]; then $(PY) $(LAYERS); else echo "($(LAYERS) not found: layering not checked)"; fi

clean:
	rm -rf $(VENV) $(VENV_MIN) runs .pytest_cache
