//! Queue names are bounded: `TTP_MAX_QUEUES` and `TTP_QUEUES_ALLOWED` refuse new names
//! with a 422 naming `queue`, empty unused queues are forgotten, `GET /queues` pages, and
//! `/metrics` reports only queues that exist.

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::queue::ClaimRequest;
use ttp::task::QueueName;
use ttp::testkit::{RedisServer, TestApp, assert_problem, test_config};

async fn api_with(config: Config) -> TestApp {
    let roles = Roles { api: true, workers: false };
    TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await
}

fn to(queue: &str) -> Value {
    json!({"kind": "noop", "queue": queue})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_that_would_create_a_queue_beyond_the_limit_is_a_422_naming_queue() {
    let redis = RedisServer::start();
    let config = Config { max_queues: 3, queues: "a".into(), ..test_config(&redis.url()) };
    let app = api_with(config).await;
    for queue in ["a", "b", "c"] {
        app.submit_ok(&to(queue)).await;
    }
    let problem = assert_problem(app.submit(&to("d")).await, 422, Some("queue")).await;
    assert!(problem["detail"].as_str().unwrap().contains("TTP_MAX_QUEUES"), "{problem}");
    app.submit_ok(&to("b")).await; // existing queues go on
    let batch = json!({"tasks": [to("c"), to("e")]});
    let body: Value = app
        .http
        .post(app.url("/tasks/batch"))
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["results"][0]["status"], 202, "{body}");
    assert_eq!(body["results"][1]["status"], 422, "{body}");
    assert_eq!(body["results"][1]["problem"]["field"], "tasks[1].queue", "{body}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_queue_names_take_submissions() {
    let redis = RedisServer::start();
    let config = Config { queues_allowed: "default,reports-*".into(), ..test_config(&redis.url()) };
    let app = api_with(config).await;
    app.submit_ok(&to("default")).await;
    app.submit_ok(&to("reports-daily")).await;
    let problem = assert_problem(app.submit(&to("other")).await, 422, Some("queue")).await;
    assert!(problem["detail"].as_str().unwrap().contains("TTP_QUEUES_ALLOWED"), "{problem}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_page_by_name_and_metrics_drop_forgotten_queues() {
    let redis = RedisServer::start();
    let config = Config { queues: "a".into(), ..test_config(&redis.url()) };
    let app = api_with(config).await;
    for queue in ["a", "b", "c", "d", "e"] {
        app.submit_ok(&to(queue)).await;
    }
    let mut names = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let url = app.url(&format!("/queues?limit=2{cursor}"));
        let page: Value = app.http.get(url).send().await.unwrap().json().await.unwrap();
        names.extend(
            page["queues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);

    // Queue e: its task leaves (claimed and finished by hand), and it is forgotten.
    let e = QueueName::parse("e").unwrap();
    let claimed = app
        .queue
        .claim(&e, &ClaimRequest::new(1, std::time::Duration::from_secs(30)).unwrap())
        .await
        .unwrap();
    let done = ttp::queue::Settlement {
        id: claimed[0].id.clone(),
        holder: claimed[0].holder(),
        lease_expired: false,
        action: ttp::queue::Action::Succeed(Value::Null),
    };
    app.queue.settle(&e, &[done]).await.unwrap();
    let (_, seq) = app.queue.activity(&e).await.unwrap();
    assert!(app.queue.forget_if_idle(&e, seq).await.unwrap());
    assert!(!app.queue.forget_if_idle(&QueueName::parse("d").unwrap(), 1).await.unwrap());
    let metrics = app.metrics_text().await;
    assert!(metrics.contains(r#"ttp_queue_depth{queue="d",state="queued"} 1"#), "{metrics}");
    assert!(!metrics.contains(r#"queue="e""#), "a forgotten queue keeps its series:\n{metrics}");
    let all: Value =
        app.http.get(app.url("/queues?limit=1000")).send().await.unwrap().json().await.unwrap();
    assert_eq!(all["queues"].as_array().unwrap().len(), 4, "{all}");
    app.shutdown().await;
}
