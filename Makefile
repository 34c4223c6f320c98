# NaturalHypergradient: the two set-up commands are `make demo` and `make test`.
# Each installs the Debian packages it needs (liblapacke-dev, libopenblas-dev, pkg-config;
# for `make test` also Open MPI: libopenmpi-dev, openmpi-bin) when they are missing: directly
# as root, through sudo otherwise.

SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := liblapacke-dev libopenblas-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MPI_APT_PACKAGES := libopenmpi-dev openmpi-bin
# The distributed checks (Distributed/, a package of its own: Docs/distributed.md) run under
# mpirun with these rank counts; more ranks than cores are fine (--oversubscribe), root needs
# --allow-run-as-root, and OpenBLAS gets one thread per rank. Each run is bounded by
# MPI_TIMEOUT seconds, so a hang fails the target instead of the CI job.
MPI_RANKS ?= 1 2 3
MPI_TIMEOUT ?= 300
MPIRUN := mpirun --oversubscribe $(shell [ "$$(id -u)" = 0 ] && echo --allow-run-as-root) -x OPENBLAS_NUM_THREADS=1

.PHONY: all deps mpi-deps build release test test-core test-distributed test-sanitize test-tsan demo bench bench-distributed fuzz clean

all: build

deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists lapacke; then \
		echo "Installing $(APT_PACKAGES) (LAPACKE and OpenBLAS)..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

mpi-deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists ompi-c || ! command -v mpirun >/dev/null 2>&1; then \
		echo "Installing $(MPI_APT_PACKAGES) (Open MPI)..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(MPI_APT_PACKAGES); \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The full log is kept in .build/test.log; on failure the failing tests and their reports
# (seed, shrunk case, replay command) are repeated at the end, where a CI summary that shows
# only the last lines will include them, with the CPU (OpenBLAS picks its kernels from it).
# `make test` = the core suite (`swift test`, no MPI needed) and then the distributed checks.
test: test-core test-distributed

test-core: deps
	@mkdir -p .build
	@set -o pipefail; $(SWIFT) test 2>&1 | tee .build/test.log; status=$$?; \
	if [ $$status -ne 0 ]; then \
		echo "---- failures (repeated from the log above; full log: .build/test.log) ----"; \
		grep -m1 'model name' /proc/cpuinfo || true; \
		grep -E -A10 'recorded an issue|error:' .build/test.log | grep -v '^[✔◇]' | head -60; \
	fi; exit $$status

# Builds the MPI package's check executable and runs it under mpirun for each of MPI_RANKS.
test-distributed: deps mpi-deps
	$(SWIFT) build --package-path Distributed --product nhgd-distributed-check
	@bin=$$($(SWIFT) build --package-path Distributed --show-bin-path)/nhgd-distributed-check; \
	for np in $(MPI_RANKS); do \
		echo "mpirun -np $$np nhgd-distributed-check"; \
		timeout $(MPI_TIMEOUT) $(MPIRUN) -np $$np $$bin || { echo "distributed checks failed on $$np rank(s)"; exit 1; }; \
	done; \
	echo "mpirun: two ranks with different settings must both stop, with one line"; \
	out=$$(timeout 60 $(MPIRUN) -np 1 -x NHGD_DISTRIBUTED_CASES=5 $$bin : -np 1 -x NHGD_DISTRIBUTED_CASES=6 $$bin 2>&1); st=$$?; \
	echo "$$out" | grep 'ranks disagree' || { echo "no disagreement line (status $$st): $$out"; exit 1; }; \
	[ $$st -ne 0 ] && [ $$st -ne 124 ] || { echo "disagreeing ranks: status $$st (expected non-zero, no timeout)"; exit 1; }; \
	echo "mpirun: a rank that exits early must stop every rank, without a hang"; \
	timeout 60 $(MPIRUN) -np 3 -x NHGD_DISTRIBUTED_EXIT_RANK=1 $$bin >/dev/null 2>&1; st=$$?; \
	[ $$st -ne 0 ] && [ $$st -ne 124 ] || { echo "failing rank: status $$st (expected non-zero, no timeout)"; exit 1; }; \
	echo "failing rank: every rank stopped (status $$st)"

# The whole suite under AddressSanitizer, then under ThreadSanitizer, each in a build of its own
# (.build/asan, .build/tsan; logs beside them). The leak check at exit suppresses two leaks of
# the toolchain's XCTest and Foundation.Process (Tests/Sanitizers/lsan.supp says which and why).
# OpenBLAS is uninstrumented: TSan sees its pthread calls but not its memory accesses, so it
# needs no suppressions (Docs/reliability.md).
test-sanitize: deps
	@mkdir -p .build
	@set -o pipefail; LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/lsan.supp \
		$(SWIFT) test --sanitize=address --build-path .build/asan 2>&1 | tee .build/asan.log
	@set -o pipefail; $(SWIFT) test --sanitize=thread --build-path .build/tsan 2>&1 | tee .build/tsan.log
	@! grep -E 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer' .build/asan.log .build/tsan.log

# The concurrency tests alone under ThreadSanitizer (CI runs this after `make test`): the
# pipelined optimiser, BLAS.withThreadCount, held signals, a reader racing output commits, and the
# standard streams.
TSAN_TESTS := OptimizerTests/pipelined|CheckpointResumeTests/pipelined|BLASThreadCountTests|TerminationSignalsTests|readersNeverSeeAMixedSet|LostOutputTests|everyEstimatorRunsInCompare
test-tsan: deps
	@mkdir -p .build
	@set -o pipefail; $(SWIFT) test --sanitize=thread --build-path .build/tsan --filter '$(TSAN_TESTS)' 2>&1 | tee .build/tsan-concurrency.log
	@! grep -E 'WARNING: ThreadSanitizer' .build/tsan-concurrency.log

demo: deps
	$(SWIFT) build -c release --product nhgd
	$(SWIFT) run -c release --skip-build nhgd clean

bench: deps
	$(SWIFT) build -c release --product nhgd-bench
	$(SWIFT) run -c release --skip-build nhgd-bench --quick

# The distributed benchmark cell (Docs/distributed.md) at R = 1, 2, 4, release build; one table
# row per R. BENCH_DISTRIBUTED_FLAGS=--quick for p = 10⁵.
BENCH_DISTRIBUTED_FLAGS ?=
bench-distributed: deps mpi-deps
	$(SWIFT) build -c release --package-path Distributed --product nhgd-distributed-bench
	@bin=$$($(SWIFT) build -c release --package-path Distributed --show-bin-path)/nhgd-distributed-bench; \
	for np in 1 2 4; do $(MPIRUN) -np $$np $$bin $(BENCH_DISTRIBUTED_FLAGS) || exit 1; done

# libFuzzer targets (Fuzz/Targets/*.swift) against modules built with -sanitize=fuzzer,address
# in .build/fuzz, each run for FUZZ_SECONDS (default 60) with its seeds in Fuzz/corpus/<target>;
# prints the executions per target. See Fuzz/fuzz.sh and Docs/reliability.md.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) Fuzz/fuzz.sh

clean:
	rm -rf .build Distributed/.build
