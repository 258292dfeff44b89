# ttp — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
REDIS_PORT ?= 6390
export DEV_REDIS_PORT := $(REDIS_PORT)

.PHONY: run test lint redis-start redis-stop clean

## run: start a project-local Redis (AOF, port $(REDIS_PORT), data in .data/) and `ttp serve` (release)
run:
	@scripts/redis.sh start
	TTP_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT) cargo run --release --bin ttp -- serve

## test: every test, each against its own real redis-server
test:
	@scripts/redis.sh install
	@scripts/ensure-prometheus.sh
	@scripts/push-receiver.sh install
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --no-fail-fast; \
	else \
		cargo test --no-fail-fast; \
	fi

## lint: formatting and clippy, warnings are errors
lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

redis-start:
	@scripts/redis.sh start

redis-stop:
	@scripts/redis.sh stop

clean:
	cargo clean
	rm -rf .data

# Further targets (bench, chaos, api-fuzz, clients, deploy-check, examples) live in mk/*.mk.
-include mk/*.mk
