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
}
