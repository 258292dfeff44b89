# Redis Cluster (issue 15): a local cluster, and the failover chaos soak. Included by the
# Makefile. Nodes on 127.0.0.1:$(CLUSTER_PORT)..+5 (cluster bus on +10000), data under
# $(CLUSTER_DIR) (git-ignored).

.PHONY: cluster-up cluster-down chaos-cluster

CLUSTER_PORT ?= 7100
CLUSTER_DIR ?= .data/cluster
CHAOS_CLUSTER_TASKS ?= 20000
CHAOS_CLUSTER_SUBMIT_MS ?= 40000

## cluster-up: start a local Redis Cluster (3 masters + 3 replicas, AOF, 2 s node timeout) on ports $(CLUSTER_PORT)..+5
cluster-up:
	@scripts/redis.sh install
	@scripts/cluster.sh up $(CLUSTER_PORT) $(CLUSTER_DIR)
	@echo "use it with: TTP_REDIS_MODE=cluster TTP_REDIS_URL=$$(seq -s, -f 'redis://127.0.0.1:%g' $(CLUSTER_PORT) $$(( $(CLUSTER_PORT) + 5 )))"

## cluster-down: stop the local Redis Cluster and remove its data
cluster-down:
	@scripts/cluster.sh down $(CLUSTER_DIR)

## chaos-cluster: failover soak — $(CHAOS_CLUSTER_TASKS) tasks over 12 queues on a 6-node cluster, two ttp processes, TTP_REDIS_MIN_REPLICAS=1, while a replica and a master are SIGKILLed and masters are paused shorter and longer than the node timeout; prints its counts
chaos-cluster:
	@scripts/redis.sh install
	@export CHAOS_CLUSTER_TASKS=$(CHAOS_CLUSTER_TASKS) CHAOS_CLUSTER_SUBMIT_MS=$(CHAOS_CLUSTER_SUBMIT_MS); \
	if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --test it --no-capture chaos_cluster; \
	else \
		cargo test --test it chaos_cluster -- --nocapture; \
	fi
