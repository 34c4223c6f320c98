# NaturalHypergradient: the two set-up commands are `make demo` and `make test`.
# Each installs the Debian packages it needs (liblapacke-dev, libopenblas-dev, pkg-config)
# when they are missing: directly as root, through sudo otherwise.

SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := liblapacke-dev libopenblas-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release test test-sanitize test-tsan demo bench fuzz clean

all: build

deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists lapacke; then \
		echo "Installing $(APT_PACKAGES) (LAPACKE and OpenBLAS)..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The full log is kept in .build/test.log; on failure the failing tests and their reports
# (seed, shrunk case, replay command) are repeated at the end, where a CI summary that shows
# only the last lines will include them, with the CPU (OpenBLAS picks its kernels from it).
test: deps
	@mkdir -p .build
	@set -o pipefail; $(SWIFT) test 2>&1 | tee .build/test.log; status=$$?; \
	if [ $$status -ne 0 ]; then \
		echo "---- failures (repeated from the log above; full log: .build/test.log) ----"; \
		grep -m1 'model name' /proc/cpuinfo || true; \
		grep -E -A10 'recorded an issue|error:' .build/test.log | grep -v '^[✔◇]' | head -60; \
	fi; exit $$status

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

# libFuzzer targets (Fuzz/Targets/*.swift) against modules built with -sanitize=fuzzer,address
# in .build/fuzz, each run for FUZZ_SECONDS (default 60) with its seeds in Fuzz/corpus/<target>;
# prints the executions per target. See Fuzz/fuzz.sh and Docs/reliability.md.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) Fuzz/fuzz.sh

clean:
	rm -rf .build
