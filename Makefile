# The two commands of the README work on a fresh clone with only Python 3.11+:
#   make demo   creates .venv, installs, replays the example logs and prints answers
#   make test   creates .venv, installs, runs ruff, mypy (strict) and the suite with branch coverage
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench bench-charts pictures clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# An editable install leaves our modules uncompiled (pip compiles a wheel's): with PYTHONDONTWRITEBYTECODE
	# set, every command would compile them again. Stale files after an edit are just not used.
	$(BIN)/python -m compileall -q events negotiation projections
	touch $(STAMP)

# `make demo`: replay both example logs into a fresh SQLite store and ask it questions with the
# command line. DEMO_DB (default build/demo.db, gitignored) is deleted first; override it with
# `make demo DEMO_DB=/tmp/x.db`. Tables fit 110 columns when the output is not a terminal.
DEMO_DB ?= build/demo.db
# The demo's charts (gitignored, like the store).
DEMO_CHARTS ?= build/demo

# Prints the wages lines of a `positions --json` answer (the demo's only filter).
define DEMO_WAGES
import json, sys, textwrap
answer = json.load(sys.stdin)
for party, issues in answer["positions"].items():
    position = issues.get("wages")
    if position:
        value = position["value"] or {}
        accepted = f", accepted: {position['accepted']}" if "accepted" in position else ""
        head = f"  {party:<6} {value.get('amount', '-')} {value.get('unit', '')}  [{position['event']}, since {position['since']}{accepted}]"
        print(head)
        print(textwrap.fill(position["terms"], 100, initial_indent=" " * 9, subsequent_indent=" " * 9))
endef
export DEMO_WAGES

demo: $(STAMP)
	@set -e; \
	rm -f "$(DEMO_DB)" "$(DEMO_DB)-wal" "$(DEMO_DB)-shm" "$(DEMO_DB)-journal"; \
	mkdir -p "$(dir $(DEMO_DB))"; \
	export NEGOTIATION_DB="$(DEMO_DB)" PATH="$(abspath $(BIN)):$$PATH"; \
	[ -t 1 ] || export COLUMNS="$${COLUMNS:-110}"; \
	h() { printf '\n== %s\n' "$$*"; }; \
	run() { printf '$$ negotiation %s\n' "$$*"; negotiation "$$@"; }; \
	wages() { printf '$$ negotiation positions %s --json   (wages only)\n' "$$*"; \
	          negotiation positions "$$@" --json | "$(BIN)/python" -c "$$DEMO_WAGES"; }; \
	h "A fresh store: NEGOTIATION_DB=$(DEMO_DB)"; \
	run import --quiet examples/wga_amptp_2023.jsonl examples/sag_aftra_amptp_2023.jsonl; \
	run list; \
	h "WGA, 2023-05-01: talks broke off, the contract expired at midnight: impasse"; \
	run status wga-amptp-2023 --at 2023-05-01; \
	h "WGA, 2023-05-02: strike day 1"; \
	run status wga-amptp-2023 --at 2023-05-02; \
	h "WGA, 2023-08-11: strike day 102, talks resumed (the spec's JSON answer)"; \
	run status wga-amptp-2023 --at 2023-08-11 --json; \
	h "WGA, 2023-09-24: tentative agreement while the strike still runs"; \
	run status wga-amptp-2023 --at 2023-09-24; \
	h "WGA, 2023-10-09: ratified, strike over, new contract"; \
	run status wga-amptp-2023 --at 2023-10-09; \
	h "WGA wages: 6/5/5 against 4/3/2 when talks broke off..."; \
	wages wga-amptp-2023 --at 2023-05-01; \
	h "... and 5/4/3.5: the WGA accepted it on 2023-09-24, both lines at 5% (spec 1.1)"; \
	wages wga-amptp-2023 --at 2023-09-24; \
	h "What we knew: on 2023-08-12 the AMPTP's Aug. 11 wage offer was not public yet (it was on Aug. 22)"; \
	wages wga-amptp-2023 --at 2023-08-11 --known-at 2023-08-12; \
	h "SAG-AFTRA, 2023-07-14: strike day 1"; \
	run status sag-aftra-amptp-2023 --at 2023-07-14; \
	h "SAG-AFTRA, 2023-11-08: tentative agreement on strike day 118"; \
	run status sag-aftra-amptp-2023 --at 2023-11-08; \
	h "Stoppages running on 2023-08-01: writers and actors on strike together"; \
	run stoppages --on 2023-08-01; \
	h "The end of the WGA strike, event by event"; \
	run timeline wga-amptp-2023 --from 2023-09-24 --to 2023-10-09; \
	h "How far apart on numbers, on 2023-08-22"; \
	run gap wga-amptp-2023 --at 2023-08-22; \
	h "Pictures: self-contained HTML pages (open them in a browser; they work offline)"; \
	mkdir -p "$(DEMO_CHARTS)"; \
	run chart wga-amptp-2023 --output "$(DEMO_CHARTS)/wga-amptp-2023.html"; \
	run chart --stoppages --from 2023-01-01 --to 2023-12-31 --output "$(DEMO_CHARTS)/stoppages-2023.html"; \
	printf '\nMore: negotiation --help, docs/tutorial.md. The store is %s.\n' "$(DEMO_DB)"

# `make pictures`: the README's two PNGs (committed), drawn from the example logs in a throwaway store.
PICTURES := docs/img
pictures: $(STAMP)
	@set -e; \
	db="$$(mktemp -d)/pictures.db"; \
	export PATH="$(abspath $(BIN)):$$PATH"; \
	negotiation --db "$$db" import --quiet examples/wga_amptp_2023.jsonl examples/sag_aftra_amptp_2023.jsonl; \
	mkdir -p $(PICTURES); \
	negotiation --db "$$db" chart wga-amptp-2023 --output $(PICTURES)/wga-amptp-2023.png; \
	negotiation --db "$$db" chart --stoppages --from 2023-01-01 --to 2023-12-31 --output $(PICTURES)/stoppages-2023.png; \
	rm -rf "$$(dirname "$$db")"

lint: $(STAMP)
	$(BIN)/ruff check events negotiation projections tests examples benchmarks scripts
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term --cov-report=xml -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# Chart wall times and sizes (issue 13's targets), against the status command in the same run.
bench-charts: $(STAMP)
	$(BIN)/python -m benchmarks.charts

clean:
	rm -rf $(VENV) .coverage coverage.xml .mypy_cache .ruff_cache .pytest_cache
