# The two commands of the README. Each installs missing Debian packages, configures and builds into build/.
#   make demo   edgeq demo: train a Fashion-MNIST CNN, quantize it by every method, evaluate, benchmark, report
#   make test   build everything and run the whole test suite (ctest)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build demo test test-asan test-fuzz bench clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs this too).
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEDGEQ_SANITIZE=ON -DEDGEQ_BUILD_BENCH=OFF -DEDGEQ_BUILD_E2E=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS) --target edgeq_unit_tests
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -LE "interop|e2e"

# libFuzzer targets of every reader (fuzz/) under ASan + UBSan, built with clang-14, each run 60 s, two at a time.
test-fuzz:
	@bash scripts/install-deps.sh --fuzz
	@FUZZ_JOBS=2 bash scripts/fuzz.sh 60

bench: build
	@bash scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
