//! Which scope each route needs (SPEC §13): one table, read by the guard and checked by a
//! test against every route the router serves.

use axum::http::Method;

use crate::access::Scope;

/// Routes that never need a key: probes, metrics, the documents, and the dashboard's
/// page, files and configuration (they hold no data: the page asks for a key and sends
/// it with every API call and its stream, `/ui/events`, which needs `read`).
pub const OPEN: [&str; 8] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/ui",
    "/ui/",
    "/ui/assets/{file}",
    "/ui/config",
];

/// The scope a request to `path` (the route template, e.g. `/tasks/{id}`) with `method`
/// needs; `None` for open routes and unknown ones (which answer 404 anyway).
pub fn scope_of(method: &Method, path: &str) -> Option<Scope> {
    if OPEN.contains(&path) {
        return None;
    }
    let read = method == Method::GET || method == Method::HEAD;
    let scope = match (path, read) {
        ("/tasks" | "/tasks/batch", false) => Scope::Submit,
        (_, true) => Scope::Read,
        ("/queues/{name}/claim", false) => Scope::Work,
        (p, false) if WORK_ACTIONS.iter().any(|a| p.ends_with(a)) => Scope::Work,
        _ => Scope::Admin,
    };
    Some(scope)
}

/// The lease API's task routes.
const WORK_ACTIONS: [&str; 4] = ["/heartbeat", "/complete", "/fail", "/release"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_their_scopes() {
        let cases = [
            (Method::POST, "/tasks", Some(Scope::Submit)),
            (Method::POST, "/tasks/batch", Some(Scope::Submit)),
            (Method::GET, "/tasks/{id}", Some(Scope::Read)),
            (Method::GET, "/queues", Some(Scope::Read)),
            (Method::GET, "/queues/{name}/dead", Some(Scope::Read)),
            (Method::POST, "/queues/{name}/claim", Some(Scope::Work)),
            (Method::POST, "/tasks/{id}/complete", Some(Scope::Work)),
            (Method::POST, "/tasks/{id}/retry", Some(Scope::Admin)),
            (Method::POST, "/tasks/{id}/cancel", Some(Scope::Admin)),
            (Method::DELETE, "/tasks/{id}", Some(Scope::Admin)),
            (Method::POST, "/queues/{name}/pause", Some(Scope::Admin)),
            (Method::PUT, "/kinds/{kind}", Some(Scope::Admin)),
            (Method::GET, "/metrics", None),
            (Method::GET, "/ui", None),
            (Method::GET, "/ui/assets/{file}", None),
            (Method::GET, "/ui/events", Some(Scope::Read)),
        ];
        for (method, path, scope) in cases {
            assert_eq!(scope_of(&method, path), scope, "{method} {path}");
        }
    }

    /// Every route the router serves, with the scope it needs: a new route fails here
    /// until it is added, so its scope is a decision, not a default.
    const EVERY_ROUTE: [(&str, &str, Option<Scope>); 30] = [
        ("post", "/tasks", Some(Scope::Submit)),
        ("post", "/tasks/batch", Some(Scope::Submit)),
        ("get", "/tasks/{id}", Some(Scope::Read)),
        ("delete", "/tasks/{id}", Some(Scope::Admin)),
        ("post", "/tasks/{id}/cancel", Some(Scope::Admin)),
        ("post", "/tasks/{id}/retry", Some(Scope::Admin)),
        ("post", "/tasks/{id}/heartbeat", Some(Scope::Work)),
        ("post", "/tasks/{id}/complete", Some(Scope::Work)),
        ("post", "/tasks/{id}/fail", Some(Scope::Work)),
        ("post", "/tasks/{id}/release", Some(Scope::Work)),
        ("get", "/kinds", Some(Scope::Read)),
        ("put", "/kinds/{kind}", Some(Scope::Admin)),
        ("delete", "/kinds/{kind}", Some(Scope::Admin)),
        ("get", "/queues", Some(Scope::Read)),
        ("post", "/queues/{name}/claim", Some(Scope::Work)),
        ("get", "/queues/{name}/dead", Some(Scope::Read)),
        ("post", "/queues/{name}/pause", Some(Scope::Admin)),
        ("post", "/queues/{name}/resume", Some(Scope::Admin)),
        ("get", "/ui/events", Some(Scope::Read)),
        ("get", "/schedules", Some(Scope::Read)),
        ("get", "/schedules/{name}", Some(Scope::Read)),
        ("put", "/schedules/{name}", Some(Scope::Admin)),
        ("delete", "/schedules/{name}", Some(Scope::Admin)),
        ("post", "/schedules/{name}/pause", Some(Scope::Admin)),
        ("post", "/schedules/{name}/resume", Some(Scope::Admin)),
        ("post", "/schedules/{name}/run", Some(Scope::Admin)),
        ("get", "/healthz", None),
        ("get", "/readyz", None),
        ("get", "/metrics", None),
        ("get", "/openapi.json", None),
    ];

    #[test]
    fn every_route_of_the_router_has_its_scope() {
        let (_, api) = crate::api::routes().split_for_parts();
        let doc = serde_json::to_value(api).unwrap();
        let mut served = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                served.push((method.clone(), path.clone()));
            }
        }
        served.sort();
        let mut listed: Vec<(String, String)> =
            EVERY_ROUTE.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
        listed.sort();
        assert_eq!(served, listed, "the routes served and the routes listed here differ");
        for (method, path, scope) in EVERY_ROUTE {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            assert_eq!(scope_of(&method, path), scope, "{method} {path}");
        }
    }
}
