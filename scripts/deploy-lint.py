#!/usr/bin/env python3
"""Consistency checks of deploy/ that no schema validator makes (run by deploy-check.sh).

  deploy-lint.py METRICS_FILE

METRICS_FILE is a live `/metrics` scrape of ttp. Checks:
  dashboard  deploy/grafana/dashboards/*.json are valid JSON, use the provisioned data
             source, and every metric their queries name is one ttp exports; every
             SPEC metric family is charted somewhere.
  alerts     every metric the alert rules name is one ttp exports (or Prometheus' `up`).
  grace      Kubernetes terminationGracePeriodSeconds and Compose stop_grace_period are
             longer than TTP_SHUTDOWN_GRACE_MS plus any preStop sleep.
Prints one line per problem; exits 1 if there is any.
"""

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# A metric name of ttp (or the process collector) not preceded by a name character, so
# label values like job="ttp-api" do not match.
METRIC = re.compile(r"(?<![A-Za-z0-9_:])((?:ttp|process)_[a-z_]+)")
SUFFIXES = ("_bucket", "_sum", "_count")
SPEC_FAMILIES = [
    "ttp_tasks_submitted_total", "ttp_tasks_finished_total", "ttp_task_run_seconds",
    "ttp_task_queue_wait_seconds", "ttp_task_end_to_end_seconds", "ttp_queue_depth",
    "ttp_workers_busy", "ttp_http_requests_total", "ttp_http_request_duration_seconds",
    "ttp_redis_errors_total",
]

problems: list[str] = []


def exported_families(metrics_text: str) -> set[str]:
    """Family names from the `# TYPE` lines of an exposition."""
    return {
        line.split()[2]
        for line in metrics_text.splitlines()
        if line.startswith("# TYPE ")
    }


def family(name: str, exported: set[str]) -> str:
    """`x_bucket` → `x` when `x` is an exported histogram family."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in exported:
            return name[: -len(suffix)]
    return name


def exprs_in(node) -> list[str]:
    """Every `expr` / templating `query` string anywhere in a dashboard."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                found.append(value)
            elif key == "query" and isinstance(value, dict) and isinstance(value.get("query"), str):
                found.append(value["query"])
            else:
                found.extend(exprs_in(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(exprs_in(item))
    return found


def datasource_uids(node) -> set[str]:
    uids = set()
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict) and "uid" in ds:
            uids.add(ds["uid"])
        for value in node.values():
            uids |= datasource_uids(value)
    elif isinstance(node, list):
        for item in node:
            uids |= datasource_uids(item)
    return uids


def check_names(where: str, exprs: list[str], exported: set[str]) -> set[str]:
    used = set()
    for expr in exprs:
        for name in METRIC.findall(expr):
            base = family(name, exported)
            used.add(base)
            if base not in exported:
                problems.append(f"{where}: {name!r} is not a metric ttp exports (query: {expr})")
    return used


def check_dashboards(exported: set[str]) -> None:
    provisioned = set()
    for path in (DEPLOY / "grafana/provisioning/datasources").glob("*.y*ml"):
        for ds in yaml.safe_load(path.read_text()).get("datasources", []):
            provisioned.add(ds.get("uid"))
    dashboards = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
    if not dashboards:
        problems.append("grafana: no dashboard JSON under deploy/grafana/dashboards")
    charted: set[str] = set()
    for path in dashboards:
        where = str(path.relative_to(ROOT))
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            problems.append(f"{where}: invalid JSON: {e}")
            continue
        exprs = exprs_in(dashboard)
        if not exprs:
            problems.append(f"{where}: no queries")
        before = len(problems)
        charted |= check_names(where, exprs, exported)
        for uid in datasource_uids(dashboard) - provisioned:
            problems.append(f"{where}: data source uid {uid!r} is not provisioned ({sorted(provisioned)})")
        if len(problems) == before:
            names = len(set(METRIC.findall(" ".join(exprs))))
            print(f"  {where}: {len(exprs)} queries naming {names} metrics, all exported; data source provisioned")
    for name in SPEC_FAMILIES:
        if name not in charted:
            problems.append(f"grafana: no panel charts {name}")


def check_alerts(exported: set[str]) -> None:
    for path in sorted((DEPLOY / "prometheus").glob("alerts*.yml")):
        if path.name.endswith(".test.yml"):
            continue
        where = str(path.relative_to(ROOT))
        rules = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
        before = len(problems)
        check_names(where, [r["expr"] for r in rules], exported)
        if len(problems) == before:
            print(f"  {where}: {len(rules)} rules, every metric they name is exported")


def millis(duration: str) -> int:
    """Compose durations like 40s, 1m30s, 500ms."""
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
    parts = re.findall(r"(\d+)(ms|s|m|h)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"bad duration {duration!r}")
    return sum(int(n) * units[u] for n, u in parts)


def check_grace() -> None:
    grace_ms = None
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path, doc))
    for _, doc in docs:
        if doc["kind"] == "ConfigMap" and "TTP_SHUTDOWN_GRACE_MS" in doc.get("data", {}):
            grace_ms = int(doc["data"]["TTP_SHUTDOWN_GRACE_MS"])
    if grace_ms is None:
        problems.append("k8s: no ConfigMap sets TTP_SHUTDOWN_GRACE_MS")
        return
    for path, doc in docs:
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        period_ms = pod.get("terminationGracePeriodSeconds", 30) * 1000
        pre_stop_ms = max(
            (c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0) * 1000
             for c in pod["containers"]),
            default=0,
        )
        need = grace_ms + pre_stop_ms
        name = f"{path.relative_to(ROOT)}: {doc['metadata']['name']}"
        if period_ms <= need:
            problems.append(f"{name}: terminationGracePeriodSeconds {period_ms // 1000} s is not longer than preStop + TTP_SHUTDOWN_GRACE_MS ({need} ms)")
        else:
            print(f"  {name}: terminationGracePeriodSeconds {period_ms // 1000} s > preStop {pre_stop_ms} ms + grace {grace_ms} ms")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        if "TTP_SHUTDOWN_GRACE_MS" not in env:
            continue
        service_grace = int(env["TTP_SHUTDOWN_GRACE_MS"])
        stop = millis(service.get("stop_grace_period", "10s"))
        if stop <= service_grace:
            problems.append(f"docker-compose.yml: {name}: stop_grace_period {stop} ms is not longer than TTP_SHUTDOWN_GRACE_MS {service_grace} ms")
        else:
            print(f"  docker-compose.yml: {name}: stop_grace_period {stop} ms > grace {service_grace} ms")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    exported = exported_families(Path(sys.argv[1]).read_text())
    if "ttp_tasks_submitted_total" not in exported:
        print(f"{sys.argv[1]} does not look like a ttp /metrics scrape", file=sys.stderr)
        return 2
    exported.add("up")
    check_dashboards(exported)
    check_alerts(exported)
    check_grace()
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
