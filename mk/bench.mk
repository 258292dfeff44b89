.PHONY: bench bench-peers bench-profile

## bench: raw Redis figures, the floor reference, then the standard load scenarios against a release ttp
bench:
	@scripts/bench.sh

## bench-peers: BullMQ (pinned, installed into .peers/) and ttp through the same bulk workload, side by side
bench-peers:
	@scripts/bench-peers.sh

## bench-profile: callgrind profile of Redis and of ttp in the bulk scenario (short run; top functions)
bench-profile:
	@scripts/bench-profile.sh redis
	@scripts/bench-profile.sh ttp
