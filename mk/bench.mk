.PHONY: bench

## bench: raw Redis figures, then the standard load scenarios against a release ttp
bench:
	@scripts/bench.sh
