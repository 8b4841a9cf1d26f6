# The two commands of the README.  Both create .venv (once) and install the project.
#   make book   set up, print the derivation report, execute the notebooks (papermill),
#               print the verification report and build the Jupyter Book (_build/html)
#   make test   set up (with MathJax and headless Chromium for the browser test) and run the
#               test suite: the tests, the doctests, every notebook in the quick profile, the
#               book build and the browser test of the built pages
# PROFILE=full  runs the notebooks with their published (longer) settings.
# The environment is installed from the pinned lock requirements/book.txt (constraints), so
# the book is reproducible; the library itself only declares lower bounds (pyproject.toml),
# and `nox` tests both ends of that range.

PYTHON  ?= python3
PROFILE ?= quick
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
MATHJAX := book/_static/mathjax/tex-mml-chtml.js

.PHONY: setup book test report clean lock dist matrix chromium

$(STAMP): pyproject.toml requirements/book.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/book.txt -e '.[all]'
	touch $@

setup: $(STAMP)

# MathJax 3 for offline math in the book, from the npm registry (not committed).
$(MATHJAX):
	rm -rf book/_static/mathjax && mkdir -p book/_static/mathjax
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent mathjax@3.2.2 >/dev/null \
	  && tar xzf mathjax-3.2.2.tgz && cp -r package/es5/. $(CURDIR)/book/_static/mathjax/ \
	  && rm -rf $$tmp

# Headless Chromium for the browser test (tests/publish/test_book.py), from Debian's packages:
# Playwright drives it through executable_path (its own browser download is not reachable).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: the browser test will fail under CI, skip elsewhere"

report: setup
	$(BIN)/mfderive report

book: setup $(MATHJAX)
	$(BIN)/mfderive report
	$(BIN)/mfderive run-notebooks --profile $(PROFILE)

test: setup $(MATHJAX) chromium
	$(BIN)/python -m pytest

# Maintainers: refresh the book's lock from the current environment (after a deliberate
# upgrade), build the wheel and sdist, run the supported-versions matrix.
lock: setup
	{ head -3 requirements/book.txt; $(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check \
	  | grep -v '^mfderive'; } > requirements/book.txt.new && mv requirements/book.txt.new requirements/book.txt

dist: setup
	$(BIN)/python -m build --outdir dist

matrix: setup
	$(BIN)/nox

clean:
	rm -rf _build book/notebooks book/_static/mathjax
