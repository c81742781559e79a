# orderflow — the two commands are `make dev` and `make test`; see README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
VENV_STAMP  := $(VENV)/.installed
REQS        := infra/requirements-dev.txt
TEMPLATE    := infra/template.yaml
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
# sam's telemetry would try to reach the internet.
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv check unit test template-lint package dev clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV_STAMP): $(REQS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(REQS)
	touch $@

venv: $(VENV_STAMP) ## install the pinned Python dev tools (moto, sam, cfn-lint, cargo-lambda, zig) into .venv

check: ## format check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

unit: ## unit tests only: handlers and domain against in-memory ports (fast)
	cargo nextest run --workspace --all-features --lib --bins --no-fail-fast

template-lint: $(VENV_STAMP) ## cfn-lint and sam validate --lint on the SAM template
	cfn-lint $(TEMPLATE)
	sam validate --lint --template-file $(TEMPLATE)

test: $(VENV_STAMP) check template-lint ## everything: fmt, clippy, template lint, unit, adapter (moto) and end-to-end tests
	cargo build --workspace --bins --all-features
	cargo nextest run --workspace --all-features --no-fail-fast

FUNCTIONS := validate-order update-inventory process-payment send-notification query-api
package: $(VENV_STAMP) ## release bootstraps with cargo-lambda (x86_64 here), then sam build
	@# One build per binary, exactly as `sam build` runs it, so sam finds every artifact built.
	for f in $(FUNCTIONS); do cargo lambda build --release --bin $$f; done
	@for f in $(FUNCTIONS); do ls -l target/lambda/$$f/bootstrap; done
	sam build --template-file $(TEMPLATE) --parameter-overrides Architecture=x86_64

API_PORT ?= 3000
AWS_PORT ?= 4566
dev: $(VENV_STAMP) ## the local cloud: moto + every function + the HTTP API on 127.0.0.1:$(API_PORT)
	cargo build --workspace --bins --all-features
	exec target/debug/orderflow local up --api-port $(API_PORT) --aws-port $(AWS_PORT)

clean: ## remove build output (keeps .venv)
	cargo clean
	rm -rf .aws-sam
