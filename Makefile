# orderflow — the two commands are `make dev` and `make test`; see README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
VENV_STAMP  := $(VENV)/.installed
REQS        := infra/requirements-dev.txt
TEMPLATE    := infra/template.yaml
# MiniStack lives in its own virtualenv: it pins botocore==1.43.106 exactly, and the boto3 that
# aws-sam-cli brings into .venv needs botocore>=1.43.108.
MINISTACK_VENV  := .venv-ministack
MINISTACK_STAMP := $(MINISTACK_VENV)/.installed
# The AWS CLI in its own virtualenv too (infra/requirements-awscli.txt says why); on the PATH
# after .venv, so its python and pip never shadow .venv's.
AWSCLI_VENV  := .venv-awscli
AWSCLI_STAMP := $(AWSCLI_VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/$(AWSCLI_VENV)/bin:$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
# sam's telemetry would try to reach the internet.
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv awscli check unit test template-lint checkov package dev clean chaos

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV_STAMP): $(REQS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(REQS)
	touch $@

$(AWSCLI_STAMP): infra/requirements-awscli.txt
	python3 -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(AWSCLI_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-awscli.txt
	touch $@

awscli: $(AWSCLI_STAMP) ## install the pinned AWS CLI into .venv-awscli (the README's aws commands)

venv: $(VENV_STAMP) ## install the pinned Python dev tools (moto, sam, cfn-lint, cargo-lambda, zig) into .venv

check: ## format check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

unit: ## unit tests only: handlers and domain against in-memory ports (fast)
	cargo nextest run --workspace --all-features --lib --bins --no-fail-fast

# checkov lives in its own virtualenv: its pins clash with aws-sam-cli's.
CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
$(CHECKOV_STAMP): infra/requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
	touch $@

checkov: $(CHECKOV_STAMP) ## checkov on the SAM template; each skipped check has its reason in infra/checkov.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file infra/checkov.yaml

template-lint: $(VENV_STAMP) ## cfn-lint and sam validate --lint on the SAM template
	cfn-lint $(TEMPLATE)
	sam validate --lint --template-file $(TEMPLATE)

# MiniStack's virtualenv too: the end-to-end tests deploy the stack into it (tests/e2e/two_clouds).
test: $(VENV_STAMP) $(MINISTACK_STAMP) $(AWSCLI_STAMP) browser check template-lint workflow-lint checkov moto-tests ## everything: fmt, clippy, template lint, workflow lint, checkov, the harsh cloud's rules, unit, adapter (moto), end-to-end (the flash sale under contention, a 150-order chaos run, the stack deployed into MiniStack among them, the console in headless Chromium), contract tests, fuzz smoke
	cargo build --workspace --bins --all-features
	cargo nextest run --workspace --all-features --no-fail-fast
	$(MAKE) fuzz-smoke

.PHONY: moto-tests
moto-tests: $(VENV_STAMP) ## the harsh cloud's rules, each against a real moto with the patch (infra/moto/tests)
	$(VENV)/bin/pytest -q infra/moto/tests

.PHONY: fuzz fuzz-smoke
FUZZ_TARGETS   := parse_place_order event_parsing
FUZZ_SECONDS   ?= 600
# `none`: the workspace forbids unsafe code, and without ASan a run tries ~10x more inputs.
# FUZZ_SANITIZER=address works too (on stable as well), in a slower build.
FUZZ_SANITIZER ?= none
# cargo-fuzz, pinned, into .tools/ (a no-op once installed). It hands rustc nightly-only
# flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
FUZZ_TOOL  := cargo install cargo-fuzz --version =0.13.2 --locked --root .tools --quiet
CARGO_FUZZ := RUSTC_BOOTSTRAP=1 .tools/bin/cargo-fuzz
FUZZ_FLAGS := --fuzz-dir fuzz --sanitizer $(FUZZ_SANITIZER)
fuzz-smoke: ## fuzz each parser for 30 s from the events/ fixtures; fails on any crash (fuzz/artifacts/)
	$(FUZZ_TOOL)
	cargo fmt --manifest-path fuzz/Cargo.toml -- --check
	python3 fuzz/seed_corpus.py
	$(CARGO_FUZZ) build $(FUZZ_FLAGS)
	for t in $(FUZZ_TARGETS); do $(CARGO_FUZZ) run $(FUZZ_FLAGS) $$t -- -max_total_time=30; done

fuzz: ## the long run: each fuzz target for FUZZ_SECONDS s (default 600, 10 min)
	$(FUZZ_TOOL)
	python3 fuzz/seed_corpus.py
	$(CARGO_FUZZ) build $(FUZZ_FLAGS)
	for t in $(FUZZ_TARGETS); do $(CARGO_FUZZ) run $(FUZZ_FLAGS) $$t -- -max_total_time=$(FUZZ_SECONDS); done

FUNCTIONS := validate-order update-inventory process-payment send-notification query-api reconcile-orders
package: $(VENV_STAMP) ## release bootstraps with cargo-lambda (x86_64 here), then sam build
	@# One build per binary, exactly as `sam build` runs it, so sam finds every artifact built.
	for f in $(FUNCTIONS); do cargo lambda build --release --bin $$f; done
	@for f in $(FUNCTIONS); do ls -l target/lambda/$$f/bootstrap; done
	sam build --template-file $(TEMPLATE) --parameter-overrides Architecture=x86_64

.PHONY: bench
BENCH_PACKAGES := -p orderflow-shared -p update-inventory -p process-payment -p send-notification
bench: $(VENV_STAMP) ## cold start, size and handler cost of every function: prints the table, writes docs/PERFORMANCE.md
	@# The bootstraps exactly as `package` builds them, and the hello-world reference beside them.
	for f in $(FUNCTIONS) bench-hello-world; do cargo lambda build --release --bin $$f; done
	cargo bench $(BENCH_PACKAGES) --benches
	cargo run --quiet -p orderflow-bench -- $(addprefix --functions ,$(FUNCTIONS))

CHAOS_ORDERS ?= 1000
CHAOS_SEED ?= 7
# The run's bound (`--timeout`) grows with the orders: 600 s and 1.8 s an order (2,400 s for 1,000),
# the faults on for up to 60 % of it.
chaos: $(VENV_STAMP) ## the large fault-injection run: $(CHAOS_ORDERS) mixed orders under every fault kind (harsh cloud on), counts printed as JSON
	cargo build --workspace --bins --all-features
	target/debug/orderflow chaos --orders $(CHAOS_ORDERS) --seed $(CHAOS_SEED) --json

# The two end-to-end runs of issue 11 on their own (make test runs both among the others).
.PHONY: chaos-small flash-sale
chaos-small: $(VENV_STAMP) ## the 150-order chaos run of make test, on its own
	cargo build --workspace --bins --all-features
	cargo nextest run -p orderflow-tests --all-features -E 'test(/^chaos::/)'
flash-sale: $(VENV_STAMP) ## 200 buyers of 20 units under the harsh cloud's contention, 4 batches in flight per queue
	cargo build --workspace --bins --all-features
	cargo nextest run -p orderflow-tests --all-features -E 'test(/^flash_sale::/)'

.PHONY: load load-flash
LOAD_ORDERS ?= 2000
LOAD_CONCURRENCY ?= 64
load: $(VENV_STAMP) ## mixed load on the local cloud: throughput, latency per stage, backend_share, cost per million orders; HTML report; writes its section of docs/PERFORMANCE.md
	cargo build --workspace --bins --all-features
	target/debug/orderflow load --orders $(LOAD_ORDERS) --concurrency $(LOAD_CONCURRENCY) --json
	cargo run --quiet -p orderflow-bench -- --load-only
# One item allows FLASH_ITEM_WCU / 2 reservations a second; three fresh clouds in a row.
FLASH_SKU ?= SKU-FLASH-1
FLASH_STOCK ?= 120
FLASH_SHARDS ?= 8
FLASH_ITEM_WCU ?= 4
# Few buyers in flight: a batch of ten waiting on one item outlives the function's timeout.
FLASH_CONCURRENCY ?= 8
load-flash: $(VENV_STAMP) ## one hot SKU on 1 shard, on N shards and without the per-item limit, side by side; writes its section of docs/PERFORMANCE.md
	cargo build --workspace --bins --all-features
	target/debug/orderflow load --flash $(FLASH_SKU) --stock $(FLASH_STOCK) --shards $(FLASH_SHARDS) --item-wcu $(FLASH_ITEM_WCU) --concurrency $(FLASH_CONCURRENCY) --json
	cargo run --quiet -p orderflow-bench -- --load-only

API_PORT ?= 3000
# e.g. DEV_FLAGS=--auth (the JWT authorizer, as deployed), or fault flags (see README).
DEV_FLAGS ?=
AWS_PORT ?= 4566
CONSOLE_PORT ?= 3001
dev: $(VENV_STAMP) $(AWSCLI_STAMP) ## the local cloud: moto + every function + the HTTP API on 127.0.0.1:$(API_PORT), the console on :$(CONSOLE_PORT)
	cargo build --workspace --bins --all-features
	exec target/debug/orderflow local up --api-port $(API_PORT) --aws-port $(AWS_PORT) \
	  --console-port $(CONSOLE_PORT) $(DEV_FLAGS)

# `make watch FN=validate-order`: that function's code under `cargo lambda watch` (rebuilt and
# restarted on every save), with the environment the running local cloud (make dev) gives it:
# `cargo lambda invoke FN --data-file events/…` runs it against the cloud's tables, bus and
# topics. The Runtime API emulator listens on 127.0.0.1:$(WATCH_PORT) only.
FN ?=
WATCH_PORT ?= 9000
ORDERFLOW_STATE_DIR ?= .orderflow
.PHONY: watch
watch: ## one function under cargo lambda watch against the running make dev: make watch FN=validate-order
	@test -n '$(FN)' || { echo 'which function? make watch FN=validate-order'; exit 2; }
	@command -v cargo-lambda >/dev/null || { echo 'cargo-lambda is not installed: make venv'; exit 2; }
	target/debug/orderflow local env $(FN) --state-dir $(ORDERFLOW_STATE_DIR) --format env-file \
	  > $(ORDERFLOW_STATE_DIR)/$(FN).env
	exec cargo lambda watch --all-features --bin $(FN) --invoke-address 127.0.0.1 \
	  --invoke-port $(WATCH_PORT) --env-file $(ORDERFLOW_STATE_DIR)/$(FN).env

# The console's browser test (tests/e2e/console.rs) drives Debian's Chromium through its
# chromedriver; both are installed here when missing (as root, as on the project's machines).
.PHONY: browser console-test
# apt-get needs root: sudo when make runs as another user.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser: ## Debian's chromium and chromium-driver for the console's browser test, installed when missing
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
	  echo "chromium and chromedriver: installed"; \
	else \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	fi
console-test: $(VENV_STAMP) browser ## the console in headless Chromium: an order, a dead letter redriven, a flash sale; screenshots in target/console-screenshots/
	cargo build --workspace --bins --all-features
	cargo nextest run -p orderflow-tests --all-features -E 'test(/^console::/)'

# tests/e2e/readme.rs: each README block not marked `<!-- not-run: … -->`, run as written against
# a local cloud of its own (make test runs it among the end-to-end tests).
.PHONY: readme-test
readme-test: $(VENV_STAMP) $(AWSCLI_STAMP) ## every command README.md shows, run as written against a local cloud of its own
	cargo build --workspace --bins --all-features
	cargo nextest run -p orderflow-tests --all-features -E 'test(/^readme::/)'

clean: ## remove build output (keeps .venv)
	cargo clean
	rm -rf .aws-sam

# ---------------------------------------------------------------- MiniStack (deploy it, locally)
# (MINISTACK_VENV and MINISTACK_STAMP are defined at the top: prerequisites expand when read.)
$(MINISTACK_STAMP): infra/requirements-ministack.txt
	python3 -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(MINISTACK_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-ministack.txt
	touch $@

.PHONY: ministack deploy-local workflow-lint
# Empty: a free port is picked. MiniStack hands AWS_ENDPOINT_URL to the bootstraps it runs
# (provided.al2023 functions get no endpoint otherwise) and keeps its scratch files in TMPDIR.
# MINISTACK_AUTH=true makes each function call with its own role's credentials and MiniStack
# enforce the role's policies, as AWS does (clients must then sign with the access key `test`),
# but it refuses SNS PublishBatch unless the role allows `sns:PublishBatch`, an action AWS does
# not have (its `sns:Publish` covers both): notifications fail. Off by default for that reason
# (docs/DEPLOY-NOTES.md §4).
MINISTACK_PORT ?=
MINISTACK_AUTH ?= false
MINISTACK_STATE := .orderflow/ministack
ministack: $(MINISTACK_STAMP) ## MiniStack (an independent AWS emulator) on 127.0.0.1:$(MINISTACK_PORT) (free port if empty); Ctrl-C stops it
	@port='$(MINISTACK_PORT)'; \
	if [ -z "$$port" ]; then port=$$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); fi; \
	mkdir -p $(MINISTACK_STATE); \
	echo "MiniStack: http://127.0.0.1:$$port  (deploy into it: make deploy-local DEPLOY_FLAGS=--endpoint-url=http://127.0.0.1:$$port)"; \
	exec env GATEWAY_PORT=$$port BIND_HOST=127.0.0.1 MINISTACK_HOST=127.0.0.1 AUTH=$(MINISTACK_AUTH) \
	  AWS_ENDPOINT_URL=http://127.0.0.1:$$port TMPDIR=$(CURDIR)/$(MINISTACK_STATE) \
	  $(MINISTACK_VENV)/bin/ministack

# `orderflow deploy local`: MiniStack (above, in its own process group), the bootstraps built
# (`sam build`: cargo-lambda, release) or, with DEPLOY_FLAGS=--debug-bootstraps, target/debug's
# staged as they are (seconds instead of minutes), `sam deploy --config-env local`, the catalog
# seeded into the deployed table, and the HTTP API the template declares on
# 127.0.0.1:$(API_PORT), invoking the deployed functions. It prints the stack's outputs and
# `ready`; Ctrl-C stops the API and MiniStack. DEPLOY_FLAGS=--endpoint-url=URL deploys into a
# MiniStack already running (make ministack) instead.
DEPLOY_FLAGS ?=
DEPLOY_BUILD := $(if $(findstring --debug-bootstraps,$(DEPLOY_FLAGS)),cargo build --workspace --bins --all-features,cargo build -p orderflow)
deploy-local: $(VENV_STAMP) $(MINISTACK_STAMP) ## sam deploy into MiniStack on 127.0.0.1, the catalog seeded, the API on 127.0.0.1:$(API_PORT); Ctrl-C stops it
	$(DEPLOY_BUILD)
	exec target/debug/orderflow deploy local --api-port $(API_PORT) --console-port $(CONSOLE_PORT) \
	  $(if $(MINISTACK_PORT),--ministack-port $(MINISTACK_PORT)) $(DEPLOY_FLAGS)

# Offline linters from infra/requirements-dev.txt: actionlint (syntax, expressions, action
# inputs, shellcheck on every run: step) and zizmor (security: pinning, permissions, injection).
workflow-lint: $(VENV_STAMP) ## actionlint + shellcheck + zizmor on .github/ (offline)
	shellcheck infra/deploy/*.sh
	infra/deploy/workflow-lint.sh
