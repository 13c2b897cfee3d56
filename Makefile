# Kiln: thin wrapper over CMake and the test runners.
#   make run   - install what is needed, build, start kilnd on 127.0.0.1:8420
#   make test  - install what is needed, build, run every test
SHELL := /bin/bash
BUILD ?= build
LISTEN ?= 127.0.0.1:8420
DATA ?= ./kiln-data
JOBS ?= $(shell nproc)
include mk/fuzz.mk

# Debian packages: build tools and libraries, the sandbox's Python stack
# (from Debian, run by /usr/bin/python3), and the test/bench tools.
DEB_BUILD := build-essential cmake ninja-build pkg-config clang-format clang-tidy \
  libboost-dev libboost-system-dev libseccomp-dev libsqlite3-dev nlohmann-json3-dev \
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev liburiparser-dev \
  libssl-dev libyaml-cpp-dev
DEB_SANDBOX := python3 python3-numpy python3-pandas python3-matplotlib python3-openpyxl \
  python3-xlrd python3-scipy python3-pil python3-reportlab
DEB_TEST := nodejs python3-pytest python3-requests bubblewrap python3-ipykernel python3-jupyter-client \
  iproute2 procps curl
DEB_ALL := $(DEB_BUILD) $(DEB_SANDBOX) $(DEB_TEST)

.PHONY: setup build run test unit-test api-test runner-test skills-test security-test lint format bench clean

setup:
	@missing=""; for p in $(DEB_ALL); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "setup: all packages present"; fi
	@# The TypeScript compiler and acorn for the node runner, from the lockfile
	@# (npm ships with some Node.js builds; Debian's comes as its own package).
	@command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
	@if [ ! -d runtimes/node/node_modules ] || [ runtimes/node/package-lock.json -nt runtimes/node/node_modules ]; then \
	  echo "setup: npm ci --prefix runtimes/node"; npm ci --prefix runtimes/node --no-audit --no-fund --loglevel=error && touch runtimes/node/node_modules; \
	fi

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/kilnd --listen $(LISTEN) --data-dir $(DATA)

# clang-tidy 14 does not detect Boost 1.74's coroutine support by itself.
TIDY_ARGS := --quiet --extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT --extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE

lint: build
	@clang-format --dry-run -Werror $$(git ls-files 'src/*.cc' 'src/*.h') || \
	  { echo "lint: clang-format differences; run 'make format'"; exit 1; }
	@echo "lint: clang-format clean"
	@git ls-files 'src/*.cc' | xargs -P $(JOBS) -n 4 clang-tidy -p $(BUILD) $(TIDY_ARGS) 2>/dev/null \
	  | grep -E "(warning|error):" > $(BUILD)/tidy.txt || true
	@if [ -s $(BUILD)/tidy.txt ]; then cat $(BUILD)/tidy.txt; echo "lint: clang-tidy found $$(wc -l < $(BUILD)/tidy.txt) issues"; exit 1; fi
	@echo "lint: clang-tidy clean"

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h')

unit-test: build
	cd $(BUILD) && ./kiln_unit_tests --gtest_brief=1

runner-test: setup
	/usr/bin/python3 -m pytest -q -p no:cacheprovider --import-mode=importlib \
	  runtimes/python/test_runner.py runtimes/bash/test_runner.py runtimes/node/test_runner.py

skills-test: setup
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/skills

api-test: build
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/api

# The escape suite prints its probe table and "N probes, N blocked".
security-test: build
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/security

test: build lint unit-test runner-test skills-test api-test security-test

bench: build
	/usr/bin/python3 bench/bench.py

clean:
	rm -rf $(BUILD)
