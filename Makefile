# sockit: a thin wrapper over CMake so that `make`, `make run` and `make test` just work.
#
#   make                  build everything into build/
#   make run              start the echo server on localhost:5000 (Ctrl-C stops it)
#   make test             build and run the whole suite (ctest)
#   make SANITIZER=address,undefined test   the same under sanitizers, in build-asan/
#   make test TESTS=REGEX only the ctest entries matching REGEX
#   make valgrind         the suite with every process under valgrind memcheck, in
#                         build-valgrind/: any memory error or leak fails (TESTS=REGEX too)
#   make fuzz             run each libFuzzer target (frame, addr, http, options) for
#                         FUZZ_SECONDS (60) with clang, in build-fuzz/; FUZZ_TARGETS=LIST
#                         for some of them (fuzz/README.md)
#   make install          build, then install into PREFIX (/usr/local): bin/sockit,
#                         libsockit.so/.a, the headers, sockit.pc, the CMake package
#                         (README.md "Install"); DESTDIR=DIR stages under DIR
#   make uninstall        remove what the last make install installed (same DESTDIR),
#                         and sockit's own directories once empty
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

# run: the build's own output goes to $(BUILD_DIR)/build.log, shown whole only when the
# build fails (compiler warnings are still printed), so the server's "Listening on" comes
# right after two lines of make run's own.
RUN_LOG = $(BUILD_DIR)/build.log
run:
	@echo "make run: building sockit in $(BUILD_DIR)/ (output in $(RUN_LOG))"
	@mkdir -p $(BUILD_DIR)
	@{ cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) && cmake --build $(BUILD_DIR) -j $(JOBS); } \
		> $(RUN_LOG) 2>&1 || { cat $(RUN_LOG); echo "make run: the build failed (output above)"; exit 1; }
	@grep -E '(^|: )warning: ' $(RUN_LOG) || true
	@echo "make run: sockit serve echo -l localhost:5000 -v (Ctrl-C stops it)"
	@exec $(BUILD_DIR)/sockit serve echo -l localhost:5000 -v

test: build
	@# A line per missing tool (nc, socat, ncat, root...) that some case needs, with the
	@# count; ctest then names each of those cases as Skipped (tests/lib/sktools.py).
	@python3 -B tests/lib/sktools.py --missing tests/cli tests/seeds
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j $(JOBS) $(if $(TESTS),-R '$(value TESTS)')

# valgrind: tests/valgrind/README.md. BUILD_DIR=DIR on the command line builds there instead.
VALGRIND_DIR = $(if $(filter file,$(origin BUILD_DIR)),build-valgrind,$(BUILD_DIR))
.PHONY: valgrind
valgrind:
	@command -v valgrind >/dev/null 2>&1 || { echo "make valgrind: needs valgrind (apt-get install valgrind)"; exit 1; }
	@cmake -S . -B $(VALGRIND_DIR) $(CMAKE_FLAGS) -DSOCKIT_VALGRIND=ON >/dev/null
	@cmake --build $(VALGRIND_DIR) -j $(JOBS)
	@rm -rf $(VALGRIND_DIR)/valgrind/logs && mkdir -p $(VALGRIND_DIR)/valgrind/logs
	@cd $(VALGRIND_DIR) && { ctest --output-on-failure --timeout 3600 -j $(JOBS) $(if $(TESTS),-R '$(value TESTS)'); \
	  rc=$$?; python3 $(CURDIR)/tests/valgrind/check.py valgrind/logs || rc=1; exit $$rc; }

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= frame addr http options
# Each target runs on a scratch copy of its corpus (libFuzzer adds files to it); a crash
# leaves build-fuzz/NAME-crash-<sha1>, to minimize and keep in fuzz/corpus/NAME/.
fuzz:
	@command -v clang >/dev/null 2>&1 || { echo "make fuzz: needs clang and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev)"; exit 1; }
	@CC=clang cmake -S . -B build-fuzz -DSOCKIT_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
		rm -rf build-fuzz/work/$$t && mkdir -p build-fuzz/work/$$t; \
		cp fuzz/corpus/$$t/* build-fuzz/work/$$t/; \
		dict=; if [ -f fuzz/$$t.dict ]; then dict=-dict=fuzz/$$t.dict; fi; \
		echo "make fuzz: fuzz_$$t for $(FUZZ_SECONDS) s"; \
		build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build-fuzz/$$t- $$dict build-fuzz/work/$$t; \
	done

# install: the prefix is set when configuring (GNUInstallDirs picks the lib dir from it:
# lib, or lib/x86_64-linux-gnu for /usr on Debian), so BUILD_DIR keeps the last PREFIX.
PREFIX ?= /usr/local
.PHONY: install uninstall
install:
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)
	@DESTDIR='$(DESTDIR)' cmake --install $(BUILD_DIR)

uninstall:
	@test -f $(BUILD_DIR)/install_manifest.txt || { echo "make uninstall: no $(BUILD_DIR)/install_manifest.txt (nothing installed from $(BUILD_DIR))"; exit 1; }
	@while IFS= read -r f || [ -n "$$f" ]; do rm -fv "$(DESTDIR)$$f"; done < $(BUILD_DIR)/install_manifest.txt
	@# sockit's own directories (include/sockit, lib/cmake/sockit, share/doc/sockit) go too
	@# once empty; shared ones (bin, lib, share/man/man1...) stay, as they may predate us.
	@sed -n 's|/sockit/[^/]*$$|/sockit|p' $(BUILD_DIR)/install_manifest.txt | sort -u | \
		while IFS= read -r d; do rmdir -v "$(DESTDIR)$$d" 2>/dev/null || true; done

format:
	clang-format -i include/*.h include/sockit/*.h src/*.c src/*.h src/services/*.c \
		cli/*.c cli/*.h examples/*.c tests/unit/*.c tests/unit/*.h

clean:
	rm -rf build build-*
