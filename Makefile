# The two commands of the README. Each installs missing Debian packages, configures and builds into build/.
#   make demo   edgeq demo: train a Fashion-MNIST CNN, quantize it by every method, evaluate, benchmark, report
#   make test   build everything and run the whole test suite (ctest)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# -O2 without debug info: the same code as RelWithDebInfo, built ~35 % faster (CI builds from scratch every time);
# `make BUILD_TYPE=RelWithDebInfo` for a debuggable build.
BUILD_TYPE ?= Release
# Unity build (CMake batches of 8 sources per compiler run): headers parsed and inline code compiled once per batch,
# about half the compile time of a from-scratch build (CI). `make UNITY=OFF` for fast incremental rebuilds.
UNITY ?= ON

.PHONY: all deps configure build demo test test-asan test-fuzz bench clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
		-DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_UNITY_BUILD=$(UNITY) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs this too), from one clang-14 build,
# build-asan (scripts/asan-build.sh): the unit tests and conformance run sanitized; then the end-to-end tests of
# build/ start the sanitized edgeq CLI (scripts/asan-e2e.sh) and fail on any sanitizer report.
test-asan: build
	@bash scripts/install-deps.sh --fuzz
	@bash scripts/asan-build.sh edgeq_unit_tests edgeq
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -LE "interop|e2e"
	@bash scripts/asan-e2e.sh $(BUILD)

# libFuzzer targets of every reader (fuzz/) in the same build-asan, each run 60 s, two at a time.
test-fuzz:
	@bash scripts/install-deps.sh --fuzz
	@FUZZ_JOBS=2 bash scripts/fuzz.sh 60

bench: build
	@bash scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
