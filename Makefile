# Two commands do all the set-up on a fresh clone:
#   make run    creates .venv if needed, installs groklab, runs the main job (figure 3, quick scale)
#   make test   same set-up (and Chromium for the HTML report tests, from the Debian packages when
#               missing: scripts/ensure-browser.sh), then the test suite, then the tests marked
#               `numerics` again with the CPU kernels held to another instruction set
#               (tests/kernels.py: AVX2 on an AVX-512 CPU), so a bound tuned to one CPU fails here
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.groklab-installed

.PHONY: run test browser bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/groklab reproduce fig3

browser:
	@scripts/ensure-browser.sh

test: $(STAMP) browser
	$(PY) -m pytest
	$(PY) tests/kernels.py held -- -m "numerics and not slow"

bench: $(STAMP)
	$(PY) benchmarks/bench_sparse.py
	$(PY) benchmarks/bench_matrix.py
	$(PY) benchmarks/bench_modular.py
	$(PY) benchmarks/bench_fig4.py
	$(PY) benchmarks/bench_teacher_student.py

clean:
	rm -rf $(VENV) results .pytest_cache
