# Two commands on a fresh Debian machine: `make demo` and `make test` (README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test soak bench system-deps clean

$(VENV)/.installed: pyproject.toml
	@scripts/system-deps.sh base
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

demo: $(VENV)/.installed
	OCBRIDGE_DATA_DIR=$${OCBRIDGE_DATA_DIR:-var/demo} $(PY) -m ocbridge demo $(if $(DEMO_PORT),--port $(DEMO_PORT))

test: $(VENV)/.installed
	@scripts/system-deps.sh test
	OCBRIDGE_DATA_DIR=var/test $(PY) -m pytest -q $(PYTEST_ARGS)

soak: $(VENV)/.installed
	@scripts/system-deps.sh test
	OCBRIDGE_DATA_DIR=var/soak OCBRIDGE_SOAK=1 $(PY) -m pytest -q -m slow $(PYTEST_ARGS)

clean:
	rm -rf var/test var/soak
