# FactorConv — build, test, demo and benchmark entry points.
#   make demo    the main job on built-in data
#   make test    every test suite: Swift, C, Python (fails if any fails)
#   make bench   side-by-side benchmarks against PyTorch / tltorch (builds a reference venv)
#   make lib     the release libfactorconv.so (self-contained, exports only fconv_*)
# System packages and Python packages that are missing are installed when running as root
# (apt-get / pip); otherwise the exact command to run is printed.

SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
CC ?= cc

RELEASE_DIR := .build/release
LIB := $(RELEASE_DIR)/libfactorconv.so
APT_PACKAGES := libopenblas-dev liblapacke-dev pkg-config python3-dev libffi-dev valgrind
PIP_PACKAGES := numpy pytest safetensors

C_FLAGS := -std=c99 -pedantic -Wall -Wextra -Werror -O2 -Iinclude
C_LINK := -L$(RELEASE_DIR) -lfactorconv -Wl,-rpath,$(abspath $(RELEASE_DIR)) -lm
C_BUILD := .build/c
# Leak check of the C examples: definite/indirect leaks and memory errors fail; the Swift
# runtime's still-reachable / possibly-lost blocks (metadata, worker thread stacks) do not.
VALGRIND := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
REFENV_PY := $(or $(REFENV),$(or $(TMPDIR),/tmp)/factorconv-refenv)/bin/python

.PHONY: all deps lib test test-swift test-c test-python demo bench bench-dense bench-layers bench-decompositions check-exports cli fuzz-load clean

all: lib

## deps: install missing system and Python packages (as root), or print the command.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || exit 1; \
	  else echo "missing system packages; run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	fi
	@$(PYTHON) -c "import numpy, pytest, safetensors" 2>/dev/null || \
	  { if [ "$$(id -u)" = 0 ]; then $(PYTHON) -m pip install -q $(PIP_PACKAGES); \
	    else echo "missing Python packages; run: $(PYTHON) -m pip install $(PIP_PACKAGES)"; exit 1; fi; }

## lib: the release shared library, statically linked Swift runtime, exports limited to fconv_*.
lib: deps
	$(SWIFT) build -c release --product factorconv -Xswiftc -static-stdlib \
	  -Xlinker --version-script=$(abspath Sources/FactorConvC/exports.map)

## cli: the `factorconv` command-line tool (release build of product factorconv-cli; SwiftPM
## cannot name it `factorconv` beside the library product, so it is copied to .build/release/factorconv).
CLI := $(RELEASE_DIR)/factorconv
cli: deps
	$(SWIFT) build -c release --product factorconv-cli
	cp $(RELEASE_DIR)/factorconv-cli $(CLI)

## fuzz-load: random-mutation fuzzing of fconv_conv_load for FUZZ_SECONDS (default 60) seconds;
## fails if any input crashes the loader (kept under the printed directory's crashes/).
FUZZ_SECONDS ?= 60
fuzz-load: lib
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) Tests/Fuzz/fuzz_load.c -o $(C_BUILD)/fuzz_load $(C_LINK)
	@dir=$$(mktemp -d /tmp/factorconv-fuzz.XXXXXX); echo "fuzzing in $$dir"; \
	  $(C_BUILD)/fuzz_load $(FUZZ_SECONDS) $${FUZZ_SEED:-$$(date +%s)} $$dir

## check-exports: the release .so exports exactly the functions the header declares.
check-exports: lib
	@diff <(grep -oE '\bfconv_[a-z0-9_]+\(' include/factorconv.h | tr -d '(' | sort -u) \
	      <(nm -D --defined-only $(LIB) | awk '$$2 == "T" {print $$3}' | sort -u) \
	  && echo "exports match the header ($$(nm -D --defined-only $(LIB) | awk '$$2 == "T"' | wc -l) functions)"

test: deps test-swift test-c test-python
	@echo "all test suites passed"

test-swift: deps
	$(SWIFT) test

test-c: lib check-exports
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) -x c -fsyntax-only include/factorconv.h
	g++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -x c++ -fsyntax-only include/factorconv.h
	@mkdir -p $(C_BUILD)/valgrind-lib
	@# valgrind 3.19 cannot read the DWARF 5 debug info of the Swift-built .so: give it a copy
	@# without debug info (LD_LIBRARY_PATH wins over the examples' RUNPATH).
	@objcopy --strip-debug $(LIB) $(C_BUILD)/valgrind-lib/libfactorconv.so
	@set -e; for src in bindings/c/*.c; do \
	  exe=$(C_BUILD)/$$(basename $$src .c); \
	  $(CC) $(C_FLAGS) $$src -o $$exe $(C_LINK); \
	  echo "== $$exe"; \
	  if command -v valgrind >/dev/null; then \
	    LD_LIBRARY_PATH=$(abspath $(C_BUILD)/valgrind-lib) $(VALGRIND) --log-file=$$exe.valgrind $$exe \
	      || { cat $$exe.valgrind; exit 1; }; \
	    grep -E "ERROR SUMMARY|definitely lost|indirectly lost" $$exe.valgrind | sed 's/^==[0-9]*== */   valgrind: /'; \
	  else echo "   (valgrind not installed: running without the leak check)"; $$exe; fi; \
	done

test-python: lib cli
	FACTORCONV_LIB=$(abspath $(LIB)) FACTORCONV_CLI=$(abspath $(CLI)) $(PYTHON) -m pytest -q bindings/python/tests
	@# The torch / tltorch interop tests need the reference venv; run them when it exists
	@# (build it with `bash Benchmarks/refenv.sh`); otherwise they were skipped above.
	@if [ -x $(REFENV_PY) ] && $(REFENV_PY) -c "import tltorch, pytest" 2>/dev/null; then \
	  echo "== torch / tltorch interop with $(REFENV_PY)"; \
	  FACTORCONV_LIB=$(abspath $(LIB)) $(REFENV_PY) -m pytest -q bindings/python/tests/test_layer_tltorch.py \
	    bindings/python/tests/test_torch.py; \
	else echo "(no reference venv at $(REFENV_PY): torch/tltorch interop tests skipped)"; fi

demo: lib
	FACTORCONV_LIB=$(abspath $(LIB)) PYTHONPATH=bindings/python $(PYTHON) bindings/python/examples/demo.py
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) bindings/c/compress_example.c -o $(C_BUILD)/compress_example $(C_LINK)
	$(C_BUILD)/compress_example

BENCH_ENV = FACTORCONV_LIB=$(abspath $(LIB)) PYTHONPATH=bindings/python:Benchmarks

## bench: every side-by-side benchmark (dense conv, layers, decompositions) vs torch/tltorch.
bench: bench-dense bench-layers bench-decompositions

bench-dense: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_dense.py

bench-layers: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_layers.py

bench-decompositions: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_decompositions.py

clean:
	rm -rf .build $(C_BUILD)
