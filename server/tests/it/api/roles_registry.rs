//! The service registry's rows of the role table (`roles.rs`): the instances, catalog and seed
//! registry routes, with what they need (registered instances and a published catalog).

use super::*;

/// (method, template, concrete uri, body, least role).
pub(super) type Case = (
    &'static str,
    &'static str,
    String,
    Option<Value>,
    Option<Role>,
);

const DEV_ENV: &str = "/v1/projects/default/environments/development";

/// Registers instances `api/i1`, `api/i-del` and the seed instances `orders/o1`, `orders/o-del`
/// in development, waits for the published catalog, and returns the registry cases. The
/// registry's loops run for the rest of the test (they publish the catalog).
pub(super) async fn registry_cases(f: &Fixture) -> Vec<Case> {
    drop(burgee_server::registry::spawn(&f.state));
    for id in ["i1", "i-del"] {
        let uri = format!("{DEV_ENV}/services/api/instances/{id}");
        send(
            f,
            "PUT",
            &uri,
            &json!({"address": "127.0.0.1", "port": 9000}),
            Some("*"),
        )
        .await
        .expect(StatusCode::CREATED);
    }
    for id in ["o1", "o-del"] {
        let body = json!({"service_name": "orders", "service_url": "http://127.0.0.1:9100",
            "metadata": {"instance_id": id}, "environment": "development", "project": "default"});
        send(f, "POST", "/api/v1/registry/register", &body, None)
            .await
            .expect(StatusCode::CREATED);
    }
    let mut published = false;
    for _ in 0..100 {
        let r = call(
            f,
            "GET",
            "/v1/catalog/development?project=default",
            Some(f.admin()),
            None,
            &[],
        )
        .await;
        if r.status == StatusCode::OK {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(published, "no catalog was published");
    let viewer = Some(Role::Viewer);
    let editor = Some(Role::Editor);
    let seed_q = "environment=development&project=default";
    let inst = format!("{DEV_ENV}/services/api/instances");
    vec![
        (
            "get",
            "/v1/catalog/{env}",
            "/v1/catalog/development?project=default".into(),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/catalog/{env}/stream",
            "/v1/catalog/development/stream?project=default".into(),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/catalog",
            format!("{DEV_ENV}/catalog"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/services",
            format!("{DEV_ENV}/services"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/services/{service}/instances",
            inst.clone(),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}",
            format!("{inst}/i1"),
            None,
            viewer,
        ),
        (
            "put",
            "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}",
            format!("{inst}/i2"),
            Some(json!({"address": "127.0.0.1", "port": 9001})),
            editor,
        ),
        (
            "patch",
            "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}",
            format!("{inst}/i1"),
            Some(json!({"weight": 200})),
            editor,
        ),
        (
            "delete",
            "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}",
            format!("{inst}/i-del"),
            None,
            editor,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}/heartbeat",
            format!("{inst}/i1/heartbeat"),
            None,
            editor,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/services/{service}/check",
            format!("{DEV_ENV}/services/api/check"),
            None,
            editor,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/services/{service}/url",
            format!("{DEV_ENV}/services/api/url"),
            None,
            viewer,
        ),
        (
            "post",
            "/api/v1/registry/register",
            format!("/api/v1/registry/register?{seed_q}"),
            Some(
                json!({"service_name": "orders", "service_url": "http://127.0.0.1:9101", "metadata": {"instance_id": "o2"},
                "environment": "development", "project": "default"}),
            ),
            editor,
        ),
        (
            "post",
            "/api/v1/registry/deregister",
            format!("/api/v1/registry/deregister?{seed_q}"),
            Some(
                json!({"service_name": "orders", "instance_id": "o-del", "environment": "development", "project": "default"}),
            ),
            editor,
        ),
        (
            "get",
            "/api/v1/registry/services",
            format!("/api/v1/registry/services?{seed_q}"),
            None,
            viewer,
        ),
        (
            "get",
            "/api/v1/registry/services/{service_name}",
            format!("/api/v1/registry/services/orders?{seed_q}"),
            None,
            viewer,
        ),
        (
            "get",
            "/api/v1/registry/services/{service_name}/url",
            format!("/api/v1/registry/services/orders/url?{seed_q}"),
            None,
            viewer,
        ),
        (
            "post",
            "/api/v1/registry/services/{service_name}/health",
            format!("/api/v1/registry/services/orders/health?{seed_q}"),
            None,
            editor,
        ),
        (
            "get",
            "/api/v1/registry/discover/{service_name}",
            format!("/api/v1/registry/discover/orders?{seed_q}"),
            None,
            viewer,
        ),
    ]
}
