# NaturalHypergradient: the two set-up commands are `make demo` and `make test`.
# Each installs the Debian packages it needs (liblapacke-dev, libopenblas-dev, pkg-config)
# when they are missing: directly as root, through sudo otherwise.

SWIFT ?= swift
APT_PACKAGES := liblapacke-dev libopenblas-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release test demo bench clean

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

test: deps
	$(SWIFT) test

demo: deps
	$(SWIFT) build -c release --product nhgd
	$(SWIFT) run -c release --skip-build nhgd clean

bench: deps
	$(SWIFT) build -c release --product nhgd-bench
	$(SWIFT) run -c release --skip-build nhgd-bench --quick

clean:
	rm -rf .build
