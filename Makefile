# sockit: a thin wrapper over CMake so that `make`, `make run` and `make test` just work.
#
#   make                  build everything into build/
#   make run              start the echo server on localhost:5000 (Ctrl-C stops it)
#   make test             build and run the whole suite (ctest)
#   make SANITIZER=address,undefined test   the same under sanitizers, in build-asan/
#   make test TESTS=REGEX only the ctest entries matching REGEX
#   make fuzz             fuzz the frame decoders with clang + libFuzzer (FUZZ_SECONDS=60)
#   make clean
#
# CI=true (set by .ci/run) turns warnings into errors.

BUILD_TYPE ?= RelWithDebInfo
SANITIZER  ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZER),)
  BUILD_DIR ?= build
else
  BUILD_DIR ?= build-$(subst $(comma),-,$(SANITIZER))
endif
comma := ,

CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSOCKIT_SANITIZER=$(SANITIZER)
ifneq ($(filter true 1 yes,$(CI)),)
  CMAKE_FLAGS += -DSOCKIT_WERROR=ON
endif

.PHONY: all build run test clean format fuzz

all: build

build:
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/sockit serve echo -l localhost:5000 -v

test: build
	@command -v nc >/dev/null 2>&1 || echo "make test: nc not found: the nc interop tests will be skipped (apt-get install netcat-openbsd)"
	@command -v socat >/dev/null 2>&1 || echo "make test: socat not found: the socat interop tests will be skipped (apt-get install socat)"
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j $(JOBS) $(if $(TESTS),-R '$(TESTS)')

FUZZ_SECONDS ?= 60
fuzz:
	@command -v clang >/dev/null 2>&1 || { echo "make fuzz: needs clang and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev)"; exit 1; }
	@CC=clang cmake -S . -B build-fuzz -DSOCKIT_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_frame
	@mkdir -p build-fuzz/work && cp fuzz/corpus/frame/* build-fuzz/work/
	build-fuzz/fuzz/fuzz_frame -max_total_time=$(FUZZ_SECONDS) build-fuzz/work

format:
	clang-format -i include/*.h include/sockit/*.h src/*.c src/*.h src/services/*.c \
		cli/*.c cli/*.h examples/*.c tests/unit/*.c tests/unit/*.h

clean:
	rm -rf build build-*
