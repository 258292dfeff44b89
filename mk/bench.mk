.PHONY: bench bench-peers bench-profile bench-scale bench-schedules

## bench: raw Redis figures, the floor reference, then the standard load scenarios against a release ttp, then the scaling table (bench-scale) and the schedules' fire lag (bench-schedules)
bench:
	@scripts/bench.sh
	@scripts/bench-scale.sh
	@scripts/bench-schedules.sh

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

## bench-schedules: fire lag of 1,000 every-second schedules fired by 3 ttp processes together (p50/p99, ticks by outcome)
bench-schedules:
	@scripts/bench-schedules.sh
