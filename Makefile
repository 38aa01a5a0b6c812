# Two commands: `make lab` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.labkit-installed
PORT   ?= 2718
# test processes (pytest-xdist): the notebook and browser tests mostly wait on one busy process each,
# so two of them keep both cores of a small machine working. WORKERS=0 runs in one process.
WORKERS ?= 2

.PHONY: lab test setup benchmark clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[lab,test]'
	@touch $(STAMP)

setup: $(STAMP)

## lab: set up, then serve the marimo lab on 127.0.0.1 (token on; the URL is printed)
lab: $(STAMP)
	$(VENV)/bin/marimo edit notebooks/lab.py --host 127.0.0.1 --port $(PORT) --no-sandbox --skip-update-check

## test: set up, then run the whole test suite (notebooks and the browser test included);
## each test file stays on one worker (--dist loadfile), so its module fixtures (a Ray cluster, a server) start once
test: $(STAMP)
	$(PY) -m pytest -q -n $(WORKERS) --dist loadfile

benchmark: $(STAMP)
	$(PY) benchmarks/masks_speed.py
	$(PY) benchmarks/lab_latency.py
	$(PY) benchmarks/ray_study.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
