# Two commands do everything on a fresh clone:
#   make demo   installs the package and runs the end-to-end demo on the built-in synthetic mission
#   make test   installs the package and runs the whole test suite (notebooks + integration tests)
PY ?= python3
PIP = $(PY) -m pip
DEMO_OUT ?= demo_out
PYTEST_WORKERS ?= 2

.PHONY: install demo test export clean-nbs readme bench docs docs-check

install:
	# torch first: this pin installs the CPU build; a looser requirement would pull the CUDA wheels
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"

demo: install
	esa-adb-hier demo --out $(DEMO_OUT)

test: install
	$(PY) -m pytest tests -n $(PYTEST_WORKERS) -q -rfE --durations=15

export:
	nbdev_export

clean-nbs:
	nbdev_clean

readme:
	jupyter nbconvert --log-level=WARN --to markdown nbs/index.ipynb --output-dir . --output README
	sed -i 's#](images/#](nbs/images/#g' README.md   # images live in nbs/ beside the notebooks

bench:
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

# the docs site needs Quarto (https://quarto.org); the GitHub workflow deploy.yaml builds and publishes it
docs:
	nbdev_docs

# without Quarto: render every notebook to HTML with nbconvert and check its links and images
docs-check:
	$(PY) tests/docs_check.py --out _docs_check
