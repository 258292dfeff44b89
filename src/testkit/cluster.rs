//! A real Redis Cluster per test: six `redis-server` children (three masters, three
//! replicas, AOF on, a short `cluster-node-timeout`) on loopback ports, created with
//! `redis-cli --cluster create` like `make cluster-up`, killed on drop, their logs printed
//! when the test fails.
//!
//! Ports: a node's cluster bus listens on its port + 10,000, so both must be free and at
//! most 65,535; the ports are drawn below the kernel's ephemeral range (32,768 up), where
//! outgoing connections never take them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One node of a test cluster.
struct Node {
    port: u16,
    child: Option<Child>,
}

/// A six-node Redis Cluster of child processes; stopped on drop.
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
    node_timeout_ms: u64,
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// Lowest and highest first port of a test cluster (bus ports stay below 32,768).
const PORTS: std::ops::Range<u16> = 12_000..22_700;

impl RedisCluster {
    /// Starts a cluster with a 2 s node timeout.
    pub fn start() -> Self {
        Self::start_with_timeout(2000)
    }

    /// Starts a cluster whose nodes judge a silent peer failed after `node_timeout_ms`.
    pub fn start_with_timeout(node_timeout_ms: u64) -> Self {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ttp-cluster-{}-{n}", std::process::id()));
        let mut cluster = Self { nodes: Vec::new(), dir, node_timeout_ms };
        for _ in 0..20 {
            let Some(base) = free_base() else { continue };
            cluster.nodes = (base..base + 6).map(|port| Node { port, child: None }).collect();
            if cluster.launch_all() && cluster.create() {
                cluster.wait_ready(Duration::from_secs(60));
                return cluster;
            }
            cluster.stop_all();
        }
        panic!("no Redis Cluster could be started; logs:\n{}", cluster.logs());
    }

    fn launch_all(&mut self) -> bool {
        let ports: Vec<u16> = self.nodes.iter().map(|n| n.port).collect();
        ports.iter().all(|&port| self.launch(port))
    }

    /// Starts (or restarts, keeping its data and cluster config) the node on `port`.
    fn launch(&mut self, port: u16) -> bool {
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", &self.node_timeout_ms.to_string()])
            .args(["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""])
            .args(["--dir", dir.to_str().unwrap(), "--logfile", "redis.log"])
            .args(["--protected-mode", "no", "--maxmemory-policy", "noeviction"])
            .args(["--enable-debug-command", "local"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed (make test installs it)");
        let node = self.nodes.iter_mut().find(|n| n.port == port).unwrap();
        node.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if node.child.as_mut().and_then(|c| c.try_wait().ok().flatten()).is_some() {
                node.child = None;
                return false;
            }
            if cli(port, &["PING"]).is_some_and(|r| r == "PONG") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `redis-cli --cluster create` over the six nodes, one replica per master.
    fn create(&self) -> bool {
        let addrs: Vec<String> =
            self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli is not installed (make test installs it)");
        if !output.status.success() {
            eprintln!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        output.status.success()
    }

    /// Waits until every running node sees the cluster healthy: state ok, all slots
    /// served, every node known, every replica's link up and its master listing it.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.ready() {
            if Instant::now() > deadline {
                panic!(
                    "the cluster did not become ready within {within:?}:\n{}",
                    self.nodes_view()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ready(&self) -> bool {
        let running = self.running_ports();
        running.iter().all(|&port| {
            let Some(info) = cli(port, &["CLUSTER", "INFO"]) else { return false };
            let has = |line: &str| info.lines().any(|l| l.trim() == line);
            let known = format!("cluster_known_nodes:{}", self.nodes.len());
            let replication = cli(port, &["INFO", "replication"]).unwrap_or_default();
            let replica_ok = !replication.contains("role:slave")
                || replication.contains("master_link_status:up");
            let slots = slot_ranges(port).unwrap_or_default();
            let listed = running
                .iter()
                .filter(|p| slots.iter().any(|(_, _, m, r)| m == *p || r.contains(p)))
                .count();
            has("cluster_state:ok")
                && has("cluster_slots_ok:16384")
                && has(&known)
                && replica_ok
                && listed == running.len()
        })
    }

    fn running_ports(&self) -> Vec<u16> {
        self.nodes.iter().filter(|n| n.child.is_some()).map(|n| n.port).collect()
    }

    /// The seed-node URLs, comma-separated (`TTP_REDIS_URL` in cluster mode).
    pub fn url(&self) -> String {
        let urls: Vec<String> =
            self.nodes.iter().map(|n| format!("redis://127.0.0.1:{}", n.port)).collect();
        urls.join(",")
    }

    /// Every node's port.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// `CLUSTER NODES` as the first running node sees it.
    pub fn nodes_view(&self) -> String {
        self.running_ports().iter().find_map(|&p| cli(p, &["CLUSTER", "NODES"])).unwrap_or_default()
    }

    /// Ports of the current masters that serve slots (not failed).
    pub fn masters(&self) -> Vec<u16> {
        parse_nodes(&self.nodes_view())
            .into_iter()
            .filter(|n| n.master && !n.failed && n.serves_slots)
            .map(|n| n.port)
            .collect()
    }

    /// The port of the master serving `key`.
    pub fn master_of(&self, key: &str) -> u16 {
        let port = self.running_ports()[0];
        let slot: u16 =
            redis::from_redis_value(query(port, &["CLUSTER", "KEYSLOT", key]).unwrap()).unwrap();
        let ranges = slot_ranges(port).unwrap();
        let found = ranges.iter().find(|(first, last, _, _)| (*first..=*last).contains(&slot));
        found.map(|(_, _, master, _)| *master).expect("a master serves every slot")
    }

    /// The port of a replica of the master on `master`.
    pub fn replica_of(&self, master: u16) -> u16 {
        let nodes = parse_nodes(&self.nodes_view());
        let id = &nodes.iter().find(|n| n.port == master).unwrap().id;
        nodes.iter().find(|n| n.master_id.as_deref() == Some(id.as_str())).unwrap().port
    }

    /// SIGKILLs the node on `port` (data not yet in its AOF is lost).
    pub fn kill(&mut self, port: u16) {
        let node = self.nodes.iter_mut().find(|n| n.port == port).unwrap();
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the killed node on `port` again (it rejoins, as a replica if it lost its
    /// slots meanwhile).
    pub fn restart(&mut self, port: u16) {
        assert!(self.launch(port), "node {port} did not restart:\n{}", self.logs());
    }

    /// Runs `args` on the node on `port` (e.g. `CLIENT PAUSE 3000 WRITE`); its reply,
    /// `None` when the node does not answer within 5 s.
    pub fn command(&self, port: u16, args: &[&str]) -> Option<redis::Value> {
        query(port, args)
    }

    /// A synchronous cluster connection for inspecting keys.
    pub fn connection(&self) -> redis::cluster::ClusterConnection {
        let urls: Vec<String> =
            self.nodes.iter().map(|n| format!("redis://127.0.0.1:{}", n.port)).collect();
        redis::cluster::ClusterClient::new(urls).unwrap().get_connection().unwrap()
    }

    /// An async cluster connection for bulk reads.
    pub async fn async_connection(&self) -> redis::cluster_async::ClusterConnection {
        let urls: Vec<String> =
            self.nodes.iter().map(|n| format!("redis://127.0.0.1:{}", n.port)).collect();
        let client = redis::cluster::ClusterClientBuilder::new(urls)
            .response_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        client.get_async_connection().await.unwrap()
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log =
                    std::fs::read_to_string(self.dir.join(n.port.to_string()).join("redis.log"));
                format!("--- node {} ---\n{}", n.port, log.unwrap_or_default())
            })
            .collect()
    }

    fn stop_all(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- cluster nodes ---\n{}\n{}", self.nodes_view(), self.logs());
        }
        self.stop_all();
    }
}

/// A first port whose six ports and bus ports are free now.
fn free_base() -> Option<u16> {
    let base = fastrand::u16(PORTS);
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    (base..base + 6).all(|p| free(p) && free(p + 10_000)).then_some(base)
}

/// `args` sent to the node on `port` over a new connection; `None` when it does not
/// answer.
fn query(port: u16, args: &[&str]) -> Option<redis::Value> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut connection = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    connection.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut connection).ok()
}

/// A text reply (INFO, CLUSTER INFO, CLUSTER NODES).
fn cli(port: u16, args: &[&str]) -> Option<String> {
    let text: String = redis::from_redis_value(query(port, args)?).ok()?;
    Some(text.replace('\r', ""))
}

/// `(first, last, master port, replica ports)`: one range of `CLUSTER SLOTS`.
type SlotRange = (u16, u16, u16, Vec<u16>);

/// Each range of `CLUSTER SLOTS` as the node on `port` sees it.
fn slot_ranges(port: u16) -> Option<Vec<SlotRange>> {
    let reply = query(port, &["CLUSTER", "SLOTS"])?;
    let ranges: Vec<redis::Value> = redis::from_redis_value(reply).ok()?;
    let node_port = |n: &Vec<redis::Value>| redis::from_redis_value_ref::<u16>(n.get(1)?).ok();
    ranges
        .into_iter()
        .map(|range| {
            let redis::Value::Array(mut items) = range else { return None };
            let first = redis::from_redis_value_ref::<u16>(items.first()?).ok()?;
            let last = redis::from_redis_value_ref::<u16>(items.get(1)?).ok()?;
            let nodes: Vec<Vec<redis::Value>> =
                items.drain(2..).map(|n| redis::from_redis_value(n).ok()).collect::<Option<_>>()?;
            let (master, replicas) = nodes.split_first()?;
            let replicas = replicas.iter().map(node_port).collect::<Option<_>>()?;
            Some((first, last, node_port(master)?, replicas))
        })
        .collect()
}

/// One line of `CLUSTER NODES`.
struct NodeLine {
    id: String,
    port: u16,
    master: bool,
    failed: bool,
    master_id: Option<String>,
    serves_slots: bool,
}

fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let addr = fields.get(1)?.split('@').next()?;
            let port = addr.rsplit(':').next()?.parse().ok()?;
            let flags = fields.get(2)?;
            let master_id = fields.get(3).filter(|m| **m != "-").map(|m| (*m).to_owned());
            Some(NodeLine {
                id: (*fields.first()?).to_owned(),
                port,
                master: flags.contains("master"),
                failed: flags.contains("fail") && !flags.contains("fail?"),
                master_id,
                serves_slots: fields.len() > 8,
            })
        })
        .collect()
}
