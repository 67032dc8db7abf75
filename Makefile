# Two commands do all the set-up on a fresh clone:
#   make run    creates .venv if needed, installs groklab, runs the main job (figure 3, quick scale)
#   make test   same set-up, then the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.groklab-installed

.PHONY: run test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/groklab reproduce fig3

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_sparse.py
	$(PY) benchmarks/bench_matrix.py
	$(PY) benchmarks/bench_modular.py
	$(PY) benchmarks/bench_fig4.py
	$(PY) benchmarks/bench_teacher_student.py

clean:
	rm -rf $(VENV) results .pytest_cache
