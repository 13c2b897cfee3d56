# Fuzzing (libFuzzer, clang) and the ASan + UBSan test run. Included by the
# Makefile.
#   make fuzz                      - build fuzz/ with clang, run every harness
#                                    FUZZ_SECONDS (60) on a copy of its corpus
#   make fuzz FUZZERS=http         - one harness only
#   make fuzz FUZZ_UPDATE_CORPUS=1 - merge new coverage into fuzz/corpus/
#   make fuzz-corpus               - replay the checked-in corpora once
#   make test-asan                 - unit + API suites on an ASan/UBSan build
# CI: make fuzz FUZZ_SECONDS=30 && make test-asan
# Included near the top of the Makefile: keep its default goal.
KILN_FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_UPDATE_CORPUS ?= 0
FUZZERS ?= frame http drive_path runner_events
ASAN_BUILD ?= build-asan

# Per-harness libFuzzer flags: the frame corpus holds a >64 KiB stream (the
# decoder compacts its buffer past 64 KiB); HTTP requests need room for a
# long path.
FUZZ_ARGS_frame := -max_len=140000
FUZZ_ARGS_http := -max_len=20000
FUZZ_ARGS_drive_path := -max_len=4096
FUZZ_ARGS_runner_events := -max_len=300000
FUZZ_COMMON_ARGS = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1

# Every UBSan finding is fatal; ASan's defaults (leaks included) stay on.
FUZZ_ENV := UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
DEB_FUZZ := clang clang-14 libclang-rt-14-dev

.PHONY: fuzz fuzz-setup fuzz-build fuzz-corpus test-asan $(addprefix fuzz-run-,$(FUZZERS))

fuzz-setup: setup
	@missing=""; for p in $(DEB_FUZZ); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "fuzz-setup: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

fuzz-build: fuzz-setup
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DKILN_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

# One run per harness. New inputs go to a temporary copy of the corpus; with
# FUZZ_UPDATE_CORPUS=1 the ones that add coverage are merged back into
# fuzz/corpus/<name>/. A crash leaves its input in $(FUZZ_BUILD)/artifacts/.
define FUZZ_RUN
fuzz-run-$(1): fuzz-build
	@work=$$$$(mktemp -d /tmp/kiln-fuzz-$(1).XXXXXX); \
	cp -r fuzz/corpus/$(1)/. $$$$work/; \
	mkdir -p $(FUZZ_BUILD)/artifacts/$(1); \
	log=$(FUZZ_BUILD)/fuzz-$(1).log; \
	echo "fuzz: $(1) for $(FUZZ_SECONDS)s (log $$$$log)"; \
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz/$(1)_fuzz $$$$work $(FUZZ_COMMON_ARGS) $(FUZZ_ARGS_$(1)) \
	  -artifact_prefix=$(FUZZ_BUILD)/artifacts/$(1)/ > $$$$log 2>&1; rc=$$$$?; \
	grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' $$$$log \
	  | sed 's/^/fuzz: $(1): /'; \
	if [ $$$$rc -ne 0 ]; then \
	  tail -n 60 $$$$log; echo "fuzz: $(1) FAILED (exit $$$$rc); input in $(FUZZ_BUILD)/artifacts/$(1)/"; \
	  rm -rf $$$$work; exit 1; \
	fi; \
	if [ "$(FUZZ_UPDATE_CORPUS)" = 1 ]; then \
	  $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz/$(1)_fuzz -merge=1 $(FUZZ_ARGS_$(1)) fuzz/corpus/$(1) $$$$work 2>&1 \
	    | grep -E '^MERGE-OUTER: [0-9]+ new files' | sed 's/^/fuzz: $(1): /'; \
	fi; \
	rm -rf $$$$work
endef
$(foreach f,$(FUZZERS),$(eval $(call FUZZ_RUN,$(f))))

fuzz: $(addprefix fuzz-run-,$(FUZZERS))
	@echo "fuzz: $(FUZZERS): no crash in $(FUZZ_SECONDS)s each"

fuzz-corpus: fuzz-build
	@for f in $(FUZZERS); do \
	  $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz/$${f}_fuzz -runs=0 fuzz/corpus/$$f 2>&1 | grep -E 'DONE|ERROR' | sed "s/^/fuzz: $$f: /"; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || exit 1; \
	done

# ASan + UBSan (g++): unit tests with leak checking, then the API suite
# against the ASan kilnd (tests/api/conftest.py reads KILN_KILND). The
# daemon keeps some allocations for its whole life (pool, logger), so leak
# checking is off for the API run; any other ASan or UBSan report aborts
# kilnd and fails the suite.
ASAN_UNIT_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_API_ENV := ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Deselected under ASan only (they run in `make test`): they squeeze a
# sandbox's memory cgroup, and an ASan kiln-init alone has ~120 MB RSS
# (shadow + quarantine), so the kernel OOM-kills kiln-init instead of the
# test's writer and the sandbox ends ("its init process died").
ASAN_API_SKIP ?= not tmpfs_file_over_memory_limit and not output_flood_from_child \
  and not exec_timeout_limit

# clang at -O1, as the sanitizers' own docs advise. Built with g++ this was
# the slowest step of CI: g++ -O1 with ASan on the coroutine-heavy files took
# 2.7x clang's time (src/net/url_fetcher.cc: 298 s vs 109 s; whole build
# about 27 min on this 2-core machine).
test-asan: fuzz-setup
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target kilnd kiln-init kiln_unit_tests
	cd $(ASAN_BUILD) && $(ASAN_UNIT_ENV) ./kiln_unit_tests --gtest_brief=1
	$(ASAN_API_ENV) KILN_KILND=$(CURDIR)/$(ASAN_BUILD)/kilnd \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/api $(if $(ASAN_API_SKIP),-k "$(ASAN_API_SKIP)")

.DEFAULT_GOAL := $(KILN_FUZZ_SAVED_GOAL)
