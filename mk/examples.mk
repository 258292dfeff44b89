# Examples (issue 5): producer, consumer, custom_handler. Included by the Makefile.

.PHONY: examples examples-run

## examples: build the examples (debug)
examples:
	cargo build --examples

## examples-run: run every example against a private Redis and the consumer (bounded, cleans up)
examples-run: examples
	@examples/run.sh
