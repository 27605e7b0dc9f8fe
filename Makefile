# The README's two commands. Both run scripts/setup first (idempotent).
#   make run   builds Release and runs the main job: a simulated transfer.
#   make test  builds and runs every test: Release (unit, e2e, conformance,
#              interop), ASan+UBSan (unit, e2e) and the fuzzers.
JOBS ?= $(shell nproc)
# ccache keys on paths relative to the checkout, so a fresh clone elsewhere
# (CI) reuses what an earlier build compiled; the debug trees' working
# directory is left out of the key for the same reason.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: run test setup release asan fuzz test-release test-asan test-fuzz bench clean

setup:
	@scripts/setup

release: setup
	cmake -S . -B $(BUILD)/release -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD)/release -j $(JOBS)

asan: setup
	cmake -S . -B $(BUILD)/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSP_SANITIZE=ON -DSP_TOOLS=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD)/asan -j $(JOBS)

fuzz: setup
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(BUILD)/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSP_FUZZ=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD)/fuzz -j $(JOBS)

run: release
	$(BUILD)/release/tools/sendpath sim

test-release: release
	cd $(BUILD)/release && ctest --output-on-failure -j $(JOBS) --timeout 900

test-asan: asan
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -L 'unit|e2e' --timeout 900

test-fuzz: fuzz
	scripts/run-fuzzers $(BUILD)/fuzz 30

test: test-release test-asan test-fuzz

bench: release
	scripts/run-bench $(BUILD)/release

clean:
	rm -rf $(BUILD)
