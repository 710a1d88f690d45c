# Two commands do all set-up on a fresh machine (Python 3.11+ and make):
#   make run    the default grid (both MQs, embedded Milvus 2.3.5) ending in results/<run-id>/report.html
#   make test   the whole pytest suite, real servers included
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
GRID   ?= data/grids/default.yaml

.PHONY: env run test lab clean-env

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("mqbench needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

env: $(STAMP)

run: $(STAMP)
	$(BIN)/mqbench run --grid $(GRID) --report

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean-env:
	rm -rf $(VENV)
