//! Slow, idle and stuck clients: every connection a client can make ttp hold is bounded
//! in time and number, and shutdown is not held up by clients that send nothing.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, TtpProcess, test_config};

use crate::TTP_BIN;

async fn app_with(redis: &RedisServer, change: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(&redis.url());
    change(&mut config);
    TestApp::spawn_with(
        config,
        Roles { api: true, workers: true },
        HandlerRegistry::with_builtins(),
    )
    .await
}

/// Reads until the server closes the connection or `within` passes; the bytes read and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (seen, true),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => return (seen, false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_finish_their_headers_are_disconnected_after_the_header_timeout() {
    let redis = RedisServer::start();
    let app = app_with(&redis, |c| c.http_header_timeout_ms = 300).await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    for stream in &mut slow {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(3)).await;
        assert!(closed, "a slowloris connection was kept after {:?}", started.elapsed());
    }
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let redis = RedisServer::start();
    let app = app_with(&redis, |c| c.http_idle_timeout_ms = 400).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"), "{seen:?}");
    assert!(closed, "idle connection kept");
    let idle = started.elapsed();
    assert!(idle >= Duration::from_millis(350) && idle < Duration::from_secs(2), "{idle:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let redis = RedisServer::start();
    let app = app_with(&redis, |c| c.http_max_connections = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buffer = [0u8; 1024];
        assert!(stream.read(&mut buffer).await.unwrap() > 0);
        held.push(stream);
    }
    let extra = app.http.get(app.url("/healthz")).timeout(Duration::from_millis(400)).send().await;
    assert!(extra.is_err(), "a 4th connection was served while 3 were open: {extra:?}");
    held.pop();
    let served = app.http.get(app.url("/healthz")).timeout(Duration::from_secs(3)).send().await;
    assert_eq!(served.unwrap().status(), 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_a_408_problem() {
    let redis = RedisServer::start();
    let app = app_with(&redis, |c| c.http_body_timeout_ms = 1_000).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (seen, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // Once: the unread rest of the body is not waited for a second time.
    assert!(started.elapsed() < Duration::from_millis(1_800), "{:?}", started.elapsed());
    assert!(text.contains("application/problem+json") && text.contains("body-timeout"), "{text}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_at_once_although_a_client_is_stuck_half_way_through_its_headers() {
    let redis = RedisServer::start();
    let env = [("TTP_REDIS_URL", redis.url()), ("TTP_SHUTDOWN_GRACE_MS", "20000".into())];
    let mut serve = TtpProcess::start(TTP_BIN, &["serve"], &env);
    let port = serve.port.unwrap();
    let mut stuck = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stuck.write_all(b"POST /tasks HTTP/1.1\r\nHost: x\r\nContent-").await.unwrap();
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    serve.signal("TERM");
    let status = serve.wait_exit(Duration::from_secs(10)).expect("ttp did not exit");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "exit took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_few_file_descriptors_idle_clients_cannot_starve_health_checks_or_the_workers() {
    let redis = RedisServer::start();
    let env = [
        ("TTP_REDIS_URL", redis.url()),
        ("TTP_HTTP_IDLE_TIMEOUT_MS", "1000".into()),
        ("TTP_HTTP_HEADER_TIMEOUT_MS", "1000".into()),
    ];
    let serve = TtpProcess::start_with_prefix(
        TTP_BIN,
        &["prlimit", "--nofile=128:128", "--"],
        &["serve"],
        &env,
    );
    let port = serve.port.unwrap();
    let mut idle = Vec::new();
    for _ in 0..200 {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
            idle.push(stream);
        }
    }
    let http = ttp::testkit::http_client();
    let started = Instant::now();
    let health = http.get(serve.url("/healthz")).timeout(Duration::from_secs(10)).send().await;
    assert_eq!(health.unwrap().status(), 200);
    assert!(started.elapsed() < Duration::from_secs(5), "/healthz took {:?}", started.elapsed());
    let submitted = http
        .post(serve.url("/tasks"))
        .json(&json!({"kind": "echo", "payload": 1}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 202);
    let id =
        submitted.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let done: serde_json::Value = http
        .get(serve.url(&format!("/tasks/{id}?wait_ms=10000")))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["state"], "succeeded", "{done}");
    drop(idle);
}

/// Writes a request whose `Content-Length` is `body_bytes` and then the body in 16 KiB
/// pieces; false if the server stopped taking it.
async fn send_refused_body(stream: &mut TcpStream, head: &str, body_bytes: usize) -> bool {
    let head = format!("{head}Content-Length: {body_bytes}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let piece = vec![b'7'; 16 * 1024];
    let mut sent = 0;
    while sent < body_bytes {
        let n = piece.len().min(body_bytes - sent);
        if stream.write_all(&piece[..n]).await.is_err() {
            return false;
        }
        sent += n;
    }
    true
}

/// Sends a health check on `stream` after an earlier request, asking the server to close
/// then, and returns all it answered (both answers) once it closed.
async fn then_health_check(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (seen, closed) = read_until_closed(stream, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&seen).to_string();
    assert!(closed, "the connection was kept after Connection: close: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_before_its_body_is_read_still_gets_its_answer_and_keeps_its_connection()
{
    let redis = RedisServer::start();
    let app = app_with(&redis, |c| {
        c.api_keys = "a-key-of-the-operator-0123".into();
        c.max_body_bytes = 1 << 20;
    })
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let refused = "POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    // 1 MiB refused for want of a key: without draining, the connection closes with the
    // body unread and the client's writes (and the answer) are lost to a reset.
    assert!(send_refused_body(&mut stream, refused, 1 << 20).await, "body not taken");
    let text = then_health_check(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.matches("HTTP/1.1 ").count() == 2, "{text}");
    assert!(text.contains("HTTP/1.1 200"), "the next request on the connection: {text}");

    // A body declared far beyond what is drained gets its answer with the connection
    // closed, at once and without reading the rest.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!("{refused}Content-Length: {}\r\n\r\n", 64 << 20);
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 413") || text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(closed && started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    // A client waiting for `100 Continue` is not asked for a body only to throw it away:
    // the answer comes at once, and the connection closes.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!("{refused}Expect: 100-continue\r\nContent-Length: {}\r\n\r\n", 1 << 20);
    stream.write_all(head.as_bytes()).await.unwrap();
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 401") && !text.contains("100 Continue"), "{text}");
    assert!(closed && text.to_ascii_lowercase().contains("connection: close"), "{text}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_asked_for_with_100_continue_and_refused_half_way_is_drained_and_the_connection_kept()
 {
    let redis = RedisServer::start();
    let app = app_with(&redis, |c| c.max_body_bytes = 256 * 1024).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buffer = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
    let text = String::from_utf8_lossy(&buffer[..n.unwrap().unwrap()]).to_string();
    assert!(text.starts_with("HTTP/1.1 100 Continue"), "{text}");
    // 384 KiB in 16 KiB chunks: past the limit half-way, so the body is refused with a
    // 413 after the server asked for it; the rest is read and thrown away.
    let piece = vec![b'7'; 16 * 1024];
    for _ in 0..24 {
        stream.write_all(format!("{:x}\r\n", piece.len()).as_bytes()).await.unwrap();
        stream.write_all(&piece).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let text = then_health_check(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("HTTP/1.1 200"), "the next request on the connection: {text}");
    app.shutdown().await;
}
