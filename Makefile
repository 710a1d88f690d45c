# Two commands do all set-up on a fresh machine (Python 3.11+ and make):
#   make run    the default grid (both MQs, embedded Milvus 2.3.5) ending in results/<run-id>/report.html
#   make test   the whole pytest suite, real servers included
# Both install the locked stack (requirements.lock, made by `make lock` with pip-tools from pyproject.toml).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
STAMP  := $(VENV)/.installed-stamp
GRID   ?= data/grids/default.yaml
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: env run test lab lock clean-env

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -c 'import sys; sys.exit("mqbench needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

env: $(STAMP)

run: $(STAMP)
	$(BIN)/mqbench run --grid $(GRID) --report

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/explore.ipynb

lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet pip-tools
	.venv-lock/bin/pip-compile --quiet --extra test --strip-extras --no-header --no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml

clean-env:
	rm -rf $(VENV)
