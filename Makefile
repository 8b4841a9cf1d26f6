# The two commands of the README.  Both create .venv (once) and install the project.
#   make book   set up, print the derivation report, execute the notebooks (papermill),
#               print the verification report and build the Jupyter Book (_build/html)
#   make test   set up and run the test suite
# PROFILE=full  runs the notebooks with their published (longer) settings.

PYTHON  ?= python3
PROFILE ?= quick
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
MATHJAX := book/_static/mathjax/tex-mml-chtml.js

.PHONY: setup book test report clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all]'
	touch $@

setup: $(STAMP)

# MathJax 3 for offline math in the book, from the npm registry (not committed).
$(MATHJAX):
	rm -rf book/_static/mathjax && mkdir -p book/_static/mathjax
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent mathjax@3.2.2 >/dev/null \
	  && tar xzf mathjax-3.2.2.tgz && cp -r package/es5/. $(CURDIR)/book/_static/mathjax/ \
	  && rm -rf $$tmp

report: setup
	$(BIN)/python -m mfderive.publish.report

book: setup $(MATHJAX)
	$(BIN)/python -m mfderive.publish.report
	$(BIN)/python -m mfderive.publish --profile $(PROFILE)

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf _build book/notebooks book/_static/mathjax
