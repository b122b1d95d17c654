# gort — top-level entry points. The build itself is CMake (CMakeLists.txt);
# this file names the configurations and their build directories.
#
#   make test            deps, then build and ctest: native, arm64 (qemu), asan, tsan
#   make bench           deps, release build, bench/run.sh build/release (bench/results.md, .svg)
#   make build           deps, native build (RelWithDebInfo + asserts) in build/native
#   make install PREFIX=/usr/local   release build, installed (DESTDIR honoured)
#   make deps            scripts/install-deps.sh (no-op when all is installed)
#   make build-<cfg>     configure (if needed) and build one configuration
#   make test-<cfg>      build and test one configuration
#   make clean           remove build/
#
# Builds are incremental: a build directory is configured again only when
# its cmake arguments change (then from scratch, --fresh); otherwise CMake
# re-runs itself when CMakeLists.txt or the set of sources changes.

BUILD_DIR ?= build
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX    ?= /usr/local
CMAKE     ?= cmake

ASSERTS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORT_ASSERTS=ON

# The cmake arguments of each configuration (build/<name>).
CONFIG_native  := $(ASSERTS)
CONFIG_arm64   := $(ASSERTS) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/toolchains/aarch64-linux-gnu.cmake
CONFIG_asan    := $(ASSERTS) -DGORT_SANITIZE=address
CONFIG_tsan    := $(ASSERTS) -DGORT_SANITIZE=thread
CONFIG_release := -DCMAKE_BUILD_TYPE=Release -DGORT_ASSERTS=OFF -DGORT_BUILD_TESTS=OFF

TEST_CONFIGS ?= native arm64 asan tsan

export BUILD_DIR TEST_CONFIGS

.DEFAULT_GOAL := build
.PHONY: help deps build test bench install clean FORCE
.PRECIOUS: $(BUILD_DIR)/%/gort-cmake-args $(BUILD_DIR)/%/Makefile

help:
	@sed -n '4,11p' Makefile | sed 's/^# //'

deps:
	@scripts/install-deps.sh

build: deps build-native

test: deps
	@scripts/run-tests.sh $(TEST_CONFIGS)

test-%: deps
	@scripts/run-tests.sh $*

bench: build-release
	@if [ -x bench/run.sh ]; then bench/run.sh $(BUILD_DIR)/release; \
	 else echo "make bench: bench/run.sh not found; benches are in $(BUILD_DIR)/release/bench"; fi

install: build-release
	DESTDIR=$(DESTDIR) $(CMAKE) --install $(BUILD_DIR)/release --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR)

build-%: $(BUILD_DIR)/%/Makefile
	$(CMAKE) --build $(BUILD_DIR)/$* -j $(JOBS)

# Rewritten only when the arguments differ, so its time stamp marks the
# last change of configuration.
$(BUILD_DIR)/%/gort-cmake-args: FORCE
	$(if $(CONFIG_$*),,$(error unknown configuration '$*' (known: native arm64 asan tsan release)))
	@mkdir -p $(@D)
	@printf '%s\n' '$(CONFIG_$*)' | cmp -s - $@ || printf '%s\n' '$(CONFIG_$*)' >$@

$(BUILD_DIR)/%/Makefile: $(BUILD_DIR)/%/gort-cmake-args | deps
	$(CMAKE) --fresh -S . -B $(@D) $(CONFIG_$*)

FORCE:
