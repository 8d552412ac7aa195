# The two commands of the README: `make demo` and `make test`.
.PHONY: setup demo test lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/workbench demo

test: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest
	if ls notebooks/*.ipynb >/dev/null 2>&1; then .venv/bin/python -m pytest --nbval-lax notebooks; fi

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: setup
	for script in benchmarks/bench_*.py; do echo "== $$script"; .venv/bin/python $$script || exit 1; done
