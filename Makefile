# The two commands of the README: `make demo` and `make test`.
.PHONY: setup demo test lint bench

setup:
	@bash scripts/setup.sh

# Ctrl-C or SIGTERM (make passes it on) stops JupyterLab and the server;
# DEMO_ARGS passes options, e.g. make demo DEMO_ARGS="--sources 500 --lab-port 8890".
demo: setup
	.venv/bin/workbench demo $(DEMO_ARGS)

# The formatter is part of the test: a file ruff would reformat fails it, as in CI.
test: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/python -m pytest
	if ls notebooks/*.ipynb >/dev/null 2>&1; then .venv/bin/python -m pytest --nbval-lax notebooks; fi

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: setup
	for script in benchmarks/bench_*.py; do echo "== $$script"; .venv/bin/python $$script || exit 1; done
