.PHONY: bench bench-peers

## bench: raw Redis figures, the floor reference, then the standard load scenarios against a release ttp
bench:
	@scripts/bench.sh

## bench-peers: BullMQ (pinned, installed into .peers/) and ttp through the same bulk workload, side by side
bench-peers:
	@scripts/bench-peers.sh
