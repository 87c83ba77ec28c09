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
DOJO := $(PY) -m dojo

.PHONY: help kata watch hint progress reset milestone list stubs test check bench venv
.DEFAULT_GOAL := help

help: ## show the commands
	@echo "Students:     make kata N=01 | make watch N=01 | make hint N=01 [LEVEL=2] | make progress | make milestone M=01 | make reset N=01"
	@echo "Maintainers:  make test | make stubs | make check [N=05] | make bench"
	@echo "Options:      UNLOCK=1 (open every kata)  IMPL=solutions (test the reference)  TIMEOUT=30 (seconds per test)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	PIP_CACHE_DIR="$(CURDIR)/.dojo/cache/pip" $(PY) -m pip install --quiet --disable-pip-version-check -e .
	@echo ok > $(STAMP)

venv: $(STAMP) ## create the virtual environment

kata: $(STAMP) ## run one kata: make kata N=05
	@$(DOJO) kata $(N)

watch: $(STAMP) ## re-run a kata on every save: make watch N=05
	@$(DOJO) watch $(N)

hint: $(STAMP) ## the hint for the first failing step: make hint N=05 [LEVEL=2]
	@$(DOJO) hint $(N) $(LEVEL)

progress: $(STAMP) ## your progress through katas and milestones
	@$(DOJO) progress

reset: $(STAMP) ## restore a kata's stub (your file is backed up): make reset N=05
	@$(DOJO) reset $(N)

milestone: $(STAMP) ## run a milestone: make milestone M=03 [QUICK=1]
	@$(DOJO) milestone $(M)

list: $(STAMP)
	@$(DOJO) list

stubs: $(STAMP) ## regenerate tinytorch/ from solutions/
	@$(DOJO) stubs

check: $(STAMP) ## prove katas honest: make check [N=05]
	@$(DOJO) check $(N)

test: $(STAMP) ## the maintainer integrity suite (CI runs this)
	@$(DOJO) test

bench: $(STAMP) ## tinytorch vs raw NumPy (vs PyTorch when installed)
	@$(DOJO) bench
