# TinyTorch Katas. Every target is a thin wrapper over `python -m dojo <verb>` (see README:
# Windows users without make type the same verbs). The first target you run creates .venv/.

PYTHON ?= python3
VENV := .venv
ifeq ($(OS),Windows_NT)
  PY := $(VENV)/Scripts/python.exe
else
  PY := $(VENV)/bin/python
endif
STAMP := $(VENV)/.installed-stamp
LINT_STAMP := $(VENV)/.lint-stamp
DOJO := $(PY) -m dojo
# CI sets PIP_CACHE_DIR so that actions/setup-python caches the same folder.
PIP_CACHE_DIR ?= $(CURDIR)/.dojo/cache/pip

.PHONY: help kata watch hint progress reset milestone capstone benchloop loopfloor list stubs test check bench parity venv ci manifest present reveal board
.DEFAULT_GOAL := help

help: ## show the commands
	@echo "Students:     make kata N=01 [OUTPUT=1] | make watch N=01 [OUTPUT=1] | make hint N=01 [LEVEL=2] | make progress | make milestone M=01 | make reset N=01 | make parity N=05 | make capstone [QUICK=1]"
	@echo "Facilitators: make present N=05 [TIMER=5] | make reveal N=05 [STEP=2] | make board DIR=cohort/ [REFRESH=30]"
	@echo "Fork CI:      make ci [OUT=dir] [KATAS_UPSTREAM=path] [CAPSTONE=1]"
	@echo "Maintainers:  make test | make stubs | make manifest | make check [N=05] | make bench | make soak | make benchloop | make loopfloor"
	@echo "Options:      UNLOCK=1 (open every kata)  IMPL=solutions (test the reference)  TIMEOUT=30 (seconds per test)  OUTPUT=1 (kata, watch: every print() as the tests run)  DOJO_WARM=0 (make kata without its warm server)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	PIP_CACHE_DIR="$(PIP_CACHE_DIR)" $(PY) -m pip install --quiet --disable-pip-version-check -e .
	@echo ok > $(STAMP)

# `make test` also checks the fork-CI workflow (check-jsonschema, zizmor): maintainers only.
$(LINT_STAMP): $(STAMP)
	PIP_CACHE_DIR="$(PIP_CACHE_DIR)" $(PY) -m pip install --quiet --disable-pip-version-check -e ".[lint]"
	@echo ok > $(LINT_STAMP)

venv: $(STAMP) ## create the virtual environment

kata: $(STAMP) ## run one kata: make kata N=05 [OUTPUT=1]
	@$(DOJO) kata $(N)

watch: $(STAMP) ## re-run a kata on every save: make watch N=05 [OUTPUT=1]
	@$(DOJO) watch $(N)

hint: $(STAMP) ## the hint for the first failing step: make hint N=05 [LEVEL=2]
	@$(DOJO) hint $(N) $(LEVEL)

progress: $(STAMP) ## your progress through katas and milestones
	@$(DOJO) progress

reset: $(STAMP) ## restore a kata's stub (your file is backed up): make reset N=05
	@$(DOJO) reset $(N)

milestone: $(STAMP) ## run a milestone: make milestone M=03 [QUICK=1]
	@$(DOJO) milestone $(M)

capstone: $(STAMP) ## kata 20: train milestone 06's baseline, measure your optimize(), write capstone.json [QUICK=1]
	@$(DOJO) capstone submit $(if $(filter 1 true yes,$(QUICK)),--quick)

list: $(STAMP)
	@$(DOJO) list

stubs: $(STAMP) ## regenerate tinytorch/ from solutions/
	@$(DOJO) stubs

check: $(STAMP) ## prove katas honest: make check [N=05]
	@$(DOJO) check $(N)

test: $(STAMP) $(LINT_STAMP) ## the maintainer integrity suite (CI runs this)
	@$(DOJO) test

soak: $(STAMP) ## maintainers: the long flake hunt, every kata vs the solutions: make soak [SEEDS=8]
	@$(DOJO) soak

benchloop: $(STAMP) ## maintainers: how fast make kata and make watch answer (medians): make benchloop [N="01 05"] [BASELINE=../old-checkout]
	@$(PY) -m dojo.maintainers.benchloop $(if $(N),--katas $(N)) $(if $(BASELINE),--baseline "$(BASELINE)")

loopfloor: $(STAMP) ## maintainers: where a kata run's time goes (pytest and hypothesis alone, the inputs drawn, the tests' work): make loopfloor [N="01 05"]
	@$(PY) -m dojo.maintainers.loopfloor $(if $(N),--katas $(N))

manifest: $(STAMP) ## regenerate katas/MANIFEST.json (hashes fork CI checks the tests against)
	@$(DOJO) manifest

# `python -m dojo ci` exits 0 (fine), 1 (a regression or tampering) or 2 (the tests could not run);
# make reports any failure as its own exit status 2 ("Error 1" in its message): scripts that need
# the difference call `python -m dojo ci`.
ci: $(STAMP) ## fork CI, headless: verify every kata, check progress.toml's claims [OUT=dir] [KATAS_UPSTREAM=path] [FORK=path] [CAPSTONE=1: re-derive a full capstone.json too]
	@$(DOJO) ci $(if $(OUT),--out "$(OUT)") $(if $(KATAS_UPSTREAM),--upstream "$(KATAS_UPSTREAM)") $(if $(FORK),--fork "$(FORK)") $(if $(filter 1 true yes,$(CLASSROOM)),--classroom)

present: $(STAMP) ## projector view of a kata, re-run on save: make present N=05 [TIMER=5]
	@$(DOJO) present $(N) $(if $(TIMER),--timer $(TIMER))

reveal: $(STAMP) ## write one step's solution into tinytorch/: make reveal N=05 [STEP=2]
	@$(DOJO) reveal $(N) $(STEP)

board: $(STAMP) ## cohort board: make board DIR=cohort/ [REFRESH=30] [HTML=board.html]
	@$(DOJO) board "$(DIR)" $(if $(HTML),--html "$(HTML)") $(if $(REFRESH),--refresh $(REFRESH) --watch)

bench: $(STAMP) ## every benchmark: your tinytorch vs raw NumPy (vs PyTorch when installed) [ONLY=kv] [IMPL=solutions]
	@$(DOJO) bench $(foreach s,$(ONLY),--only $(s))

parity: $(STAMP) ## your tinytorch vs PyTorch, forward and backward, op by op: make parity N=05 (needs pip install -e ".[bench]")
	@$(DOJO) parity $(N)
