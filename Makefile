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
  libssl-dev libyaml-cpp-dev libutfcpp-dev libedit-dev libtomlplusplus-dev
DEB_SANDBOX := python3 python3-numpy python3-pandas python3-matplotlib python3-openpyxl \
  python3-xlrd python3-scipy python3-pil python3-reportlab python3-sklearn python3-seaborn \
  python3-statsmodels python3-sympy python3-plotly python3-bs4 python3-requests python3-pypdf2 \
  python3-xgboost python3-pip
DEB_TEST := nodejs python3-pytest python3-requests bubblewrap python3-ipykernel python3-jupyter-client \
  iproute2 procps curl python3-pexpect zsh python3-jsonschema python3-yaml mypy python3-venv \
  python3-setuptools python3-wheel python3-pip chromium fonts-liberation
DEB_ALL := $(DEB_BUILD) $(DEB_SANDBOX) $(DEB_TEST)

.PHONY: setup build run test unit-test api-test runner-test skills-test security-test cli-test \
  sdk-test sdk-js console console-test mcp-test e2b-test egress-test lint lint-full format bench clean

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
	@# TypeScript runners start from a V8 snapshot with the compiler loaded
	@# (runtimes/node/snapshot.js); it must match the node binary.
	@blob=runtimes/node/typescript.blob; node=$$(readlink -f $$(command -v node)); \
	if [ ! -f $$blob ] || [ runtimes/node/snapshot.js -nt $$blob ] || [ runtimes/node/node_modules -nt $$blob ] || [ $$node -nt $$blob ]; then \
	  echo "setup: $$blob"; node --snapshot-blob $$blob.tmp --build-snapshot runtimes/node/snapshot.js 2>$$blob.log && mv $$blob.tmp $$blob \
	    || echo "setup: building $$blob failed (see $$blob.log); TypeScript contexts start without it"; \
	fi
	@# The TypeScript SDK's compiler and Node types (dev dependencies only).
	@if [ ! -d sdk/js/node_modules ] || [ sdk/js/package-lock.json -nt sdk/js/node_modules ]; then \
	  echo "setup: npm ci --prefix sdk/js"; npm ci --prefix sdk/js --no-audit --no-fund --loglevel=error && touch sdk/js/node_modules; \
	fi
	@# The web console's build and test tools (Vite, TypeScript, CodeMirror,
	@# playwright-core; the browser is Debian's chromium above).
	@if [ ! -d console/node_modules ] || [ console/package-lock.json -nt console/node_modules ]; then \
	  echo "setup: npm ci --prefix console"; npm ci --prefix console --no-audit --no-fund --loglevel=error && touch console/node_modules; \
	fi
	@# The MCP tests' client: the official MCP TypeScript SDK and conformance suite.
	@if [ ! -d tests/mcp/client/node_modules ] || [ tests/mcp/client/package-lock.json -nt tests/mcp/client/node_modules ]; then \
	  echo "setup: npm ci --prefix tests/mcp/client"; npm ci --prefix tests/mcp/client --no-audit --no-fund --prefer-offline --loglevel=error && touch tests/mcp/client/node_modules; \
	fi
	@# E2B's official JS SDKs, for the E2B-compatibility suite (tests/e2b).
	@if [ ! -d tests/e2b/node_modules ] || [ tests/e2b/package-lock.json -nt tests/e2b/node_modules ]; then \
	  echo "setup: npm ci --prefix tests/e2b"; npm ci --prefix tests/e2b --no-audit --no-fund --loglevel=error && touch tests/e2b/node_modules; \
	fi

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	@$(MAKE) --no-print-directory console

# The web console (console/): type-checked and bundled by Vite into
# $(BUILD)/console, which kilnd serves at / from its own folder. Rebuilt
# only when a source changed.
CONSOLE_SOURCES := $(shell find console/src console/public -type f 2>/dev/null) console/index.html \
  console/vite.config.ts console/tsconfig.json console/package-lock.json
console: $(BUILD)/console/index.html
$(BUILD)/console/index.html: $(CONSOLE_SOURCES)
	KILN_CONSOLE_OUT=$(abspath $(BUILD))/console npm --prefix console run build --silent
	@touch $@

run: build
	$(BUILD)/kilnd --listen $(LISTEN) --data-dir $(DATA)

# clang-format on every file; clang-tidy (mk/tidy.py) on the files whose
# text changed since they last passed, as recorded in mk/tidy-clean.txt.
# `make lint-full` runs clang-tidy on every file (about 20 min on 2 cores).
# clang-tidy reads a compile database without precompiled headers (clang
# cannot load g++'s .gch), configured only, never built.
lint: build
	@clang-format --dry-run -Werror $$(git ls-files 'src/*.cc' 'src/*.h') || \
	  { echo "lint: clang-format differences; run 'make format'"; exit 1; }
	@echo "lint: clang-format clean"
	@cmake -S . -B $(BUILD)-lint -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_PCH=OFF >/dev/null
	@/usr/bin/python3 mk/tidy.py --build $(BUILD)-lint --jobs $(JOBS)

lint-full: build
	@cmake -S . -B $(BUILD)-lint -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_PCH=OFF >/dev/null
	@/usr/bin/python3 mk/tidy.py --build $(BUILD)-lint --jobs $(JOBS) --all

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

# Controlled internet access (issue 13): test hosts in a network namespace
# the suite creates (a veth pair, nothing routed off the machine).
egress-test: build
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/egress

# The kiln CLI: its unit tests, then pytest driving build/kiln against real
# kilnd daemons (tests/cli).
cli-test: build
	cd $(BUILD) && ./kiln_cli_unit_tests --gtest_brief=1
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/cli

# The SDKs (sdk/python, sdk/js), each against real kilnds the suites start;
# every JSON message is checked against docs/openapi.yaml.
sdk-js: setup
	npm --prefix sdk/js run build --silent

sdk-test: build sdk-js
	/usr/bin/python3 -m pytest -q -p no:cacheprovider sdk/python/tests
	cd sdk/js && node --test test/*.test.mjs

# The web console: its unit tests (vitest), then end to end in Debian's
# Chromium (playwright-core) against real kilnds the suite starts;
# screenshots of every page go to $(BUILD)/console-screenshots/.
console-test: build
	npm --prefix console run test:unit --silent
	cd console && KILN_BUILD=$(abspath $(BUILD)) node --test --test-concurrency=1 tests/e2e/console.test.mjs

# The MCP server (/mcp and kilnd mcp): raw HTTP, the stdio bridge, the
# official TypeScript SDK client and the conformance scenarios (tests/mcp).
mcp-test: build
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/mcp

# The E2B-compatible API (docs/E2B.md), driven by E2B's own npm SDKs
# (e2b, @e2b/code-interpreter; lockfile in tests/e2b) against real kilnds.
e2b-test: build
	cd tests/e2b && node --test --test-concurrency=1 *.test.mjs

test: build lint unit-test runner-test skills-test api-test security-test cli-test sdk-test console-test mcp-test e2b-test egress-test

bench: build
	/usr/bin/python3 bench/bench.py

clean:
	rm -rf $(BUILD)
