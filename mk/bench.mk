.PHONY: bench bench-scale

## bench: raw Redis figures, then the standard load scenarios against a release ttp, then the scaling table (bench-scale)
bench:
	@scripts/bench.sh
	@scripts/bench-scale.sh

## bench-scale: one Redis vs a 3-master Redis Cluster, with 1, 2 and 4 ttp worker processes: tasks/s and Redis CPU per task per master
bench-scale:
	@scripts/bench-scale.sh
