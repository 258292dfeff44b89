.PHONY: bench bench-peers bench-profile bench-scale

## bench: raw Redis figures, the floor reference, then the standard load scenarios against a release ttp, then the scaling table (bench-scale)
bench:
	@scripts/bench.sh
	@scripts/bench-scale.sh

## bench-peers: BullMQ (pinned, installed into .peers/) and ttp through the same bulk workload, side by side
bench-peers:
	@scripts/bench-peers.sh

## bench-profile: callgrind profile of Redis and of ttp in the bulk scenario (short run; top functions)
bench-profile:
	@scripts/bench-profile.sh redis
	@scripts/bench-profile.sh ttp

## bench-scale: one Redis vs a 3-master Redis Cluster, with 1, 2 and 4 ttp worker processes: tasks/s and Redis CPU per task per master
bench-scale:
	@scripts/bench-scale.sh
