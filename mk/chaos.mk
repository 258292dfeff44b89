.PHONY: chaos

CHAOS_TASKS ?= 20000
CHAOS_SUBMIT_MS ?= 50000

## chaos: crash soak — $(CHAOS_TASKS) mixed tasks over $(CHAOS_SUBMIT_MS) ms while a random one of three `ttp worker` processes is SIGKILLed every ~2 s; prints its counts
chaos:
	@scripts/redis.sh install
	@export CHAOS_TASKS=$(CHAOS_TASKS) CHAOS_SUBMIT_MS=$(CHAOS_SUBMIT_MS); \
	if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --test it --no-capture chaos; \
	else \
		cargo test --test it chaos -- --nocapture; \
	fi
