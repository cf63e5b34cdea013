# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   - set up, then run the main job on the embedded defaults
#   make test   - set up, then run the whole test suite (what CI runs)
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
FLOWER_VENV := .venv-flower
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
FLOWER_STAMP := $(FLOWER_VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: setup browser demo test check lint types fmt bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

# Flower (federated training) pins fastapi/starlette/uvicorn/protobuf below ours: its own venv
$(FLOWER_STAMP): pyproject.toml
	@test -x $(FLOWER_VENV)/bin/python || $(PYTHON) -m venv $(FLOWER_VENV)
	$(FLOWER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOWER_VENV)/bin/python -m pip install --quiet -e '.[federation]'
	@rm -f $(FLOWER_VENV)/.installed-*; touch $(FLOWER_STAMP)

setup: $(STAMP) $(FLOWER_STAMP)

# Browser tests drive Debian's Chromium (Playwright never downloads a browser here); CJK fonts
# so Korean renders in screenshots.  Installed once, as root, through apt.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq chromium fonts-noto-cjk >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk)); \
	  else echo "browser tests need /usr/bin/chromium (apt-get install chromium fonts-noto-cjk)"; fi; \
	fi

demo: setup
	$(VENV)/bin/axhub demo

# pytest exits 5 when it collects no tests; that is not a failure of the suite.
test: setup browser
	$(PY) -m pytest -q -p no:cacheprovider; rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

types: setup
	$(VENV)/bin/mypy

fmt: setup
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

check: lint types test

clean:
	rm -rf $(VENV) $(FLOWER_VENV) axhub-data .pytest_cache .mypy_cache .ruff_cache
