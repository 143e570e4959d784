//! Every authenticated route against every role, and tokens of other projects.

use super::*;

// ---------------------------------------------------------------------------------------

struct Tokens {
    viewer: String,
    editor: String,
    publisher: String,
    admin: String,
    other_admin: String,
    sdk_dev: String,
}

async fn token(
    f: &Fixture,
    kind: &str,
    role: Option<Role>,
    project: Option<&str>,
    env: Option<&str>,
) -> String {
    f.state
        .create_token(
            "test",
            &TokenInput {
                kind: kind.into(),
                name: String::new(),
                role,
                project: project.map(str::to_owned),
                environment: env.map(str::to_owned),
                service: None,
            },
        )
        .await
        .unwrap()
        .token
}

/// Every authenticated operation of the OpenAPI document with the least role that may call it; for each:
/// no token → 401, an SDK key → 403, every lesser role → 403, a token of another project →
/// 403, and the least role gets through.
async fn every_route_enforces_roles(f: &Fixture) {
    send(f, "POST", "/v1/projects", &json!({"key": "other"}), None)
        .await
        .expect(StatusCode::CREATED);
    let t = Tokens {
        viewer: token(f, "admin", Some(Role::Viewer), Some("default"), None).await,
        editor: token(f, "admin", Some(Role::Editor), Some("default"), None).await,
        publisher: token(f, "admin", Some(Role::Publisher), Some("default"), None).await,
        admin: token(f, "admin", Some(Role::Admin), Some("default"), None).await,
        other_admin: token(f, "admin", Some(Role::Admin), Some("other"), None).await,
        sdk_dev: token(f, "sdk", None, Some("default"), Some("development")).await,
    };
    for key in ["f1", "f-del"] {
        send(f, "POST", &format!("{P}/flags"), &boolean_flag(key), None)
            .await
            .expect(StatusCode::CREATED);
    }
    send(
        f,
        "POST",
        &format!("{P}/flags"),
        &experiment_flag("exp"),
        None,
    )
    .await
    .expect(StatusCode::CREATED);
    for key in ["s1", "s-del"] {
        send(
            f,
            "POST",
            &format!("{DEV}/segments"),
            &json!({"key": key}),
            None,
        )
        .await
        .expect(StatusCode::CREATED);
    }
    send(
        f,
        "POST",
        &format!("{P}/environments"),
        &json!({"key": "tmp"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED);
    send(f, "POST", "/v1/projects", &json!({"key": "doomed"}), None)
        .await
        .expect(StatusCode::CREATED);
    let user_victim = f
        .state
        .create_user(
            "test",
            &burgee_server::model::UserInput {
                email: "victim@example.com".into(),
                name: None,
                role: Role::Viewer,
                project: Some("default".into()),
                password: None,
            },
        )
        .await
        .unwrap()
        .user
        .id;
    let victim = f
        .state
        .create_token(
            "test",
            &TokenInput {
                kind: "admin".into(),
                name: String::new(),
                role: Some(Role::Viewer),
                project: Some("default".into()),
                environment: None,
                service: None,
            },
        )
        .await
        .unwrap()
        .info
        .id;

    send(
        f,
        "PUT",
        &format!("{P}/services/checkout"),
        &json!({}),
        None,
    )
    .await
    .expect(StatusCode::OK);
    for key in ["c1", "c-del", "c-del2"] {
        send(
            f,
            "PUT",
            &format!("{DEV}/services/checkout/configs/{key}"),
            &json!({"value": "1"}),
            None,
        )
        .await
        .expect(StatusCode::CREATED);
    }
    let mut hooks = Vec::new();
    for _ in 0..2 {
        let hook = f
            .state
            .create_webhook(
                "test",
                "default",
                &burgee_server::notify::webhooks::WebhookInput {
                    url: "http://127.0.0.1:9/hook".into(),
                    kinds: vec![],
                },
            )
            .await
            .unwrap();
        hooks.push(hook.webhook.id);
    }
    let seed_q = "project=default&environment=development&service_name=checkout";
    let svc = format!("{DEV}/services/checkout");

    // (method, template, concrete uri, body, least role; None = global admin only)
    let viewer = Some(Role::Viewer);
    let editor = Some(Role::Editor);
    let publisher = Some(Role::Publisher);
    let admin = Some(Role::Admin);
    type Case = (
        &'static str,
        &'static str,
        String,
        Option<Value>,
        Option<Role>,
    );
    let cases: Vec<Case> = vec![
        (
            "get",
            "/v1/snapshots/{env}",
            "/v1/snapshots/development?project=default".into(),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/stream/{env}",
            "/v1/stream/development?project=default".into(),
            None,
            viewer,
        ),
        ("get", "/v1/projects/{project}", P.into(), None, viewer),
        (
            "get",
            "/v1/projects/{project}/environments",
            format!("{P}/environments"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}",
            DEV.into(),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/flags",
            format!("{P}/flags"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/flags/{key}",
            format!("{P}/flags/f1"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/flags/{key}",
            format!("{DEV}/flags/f1"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/segments",
            format!("{DEV}/segments"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/segments/{key}",
            format!("{DEV}/segments/s1"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/versions",
            format!("{DEV}/versions"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/versions/{version}",
            format!("{DEV}/versions/1"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/diff",
            format!("{DEV}/diff?from=1&to=2"),
            None,
            viewer,
        ),
        (
            // A new flag is published to the protected production too (tests/publish_limits.rs).
            "post",
            "/v1/projects/{project}/flags",
            format!("{P}/flags"),
            Some(boolean_flag("f2")),
            publisher,
        ),
        (
            "put",
            "/v1/projects/{project}/environments/{env}/flags/{key}",
            format!("{DEV}/flags/f1"),
            Some(targeting_on()),
            editor,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/segments",
            format!("{DEV}/segments"),
            Some(json!({"key": "s2"})),
            editor,
        ),
        (
            "put",
            "/v1/projects/{project}/environments/{env}/segments/{key}",
            format!("{DEV}/segments/s1"),
            Some(json!({"key": "s1", "included": ["u"]})),
            editor,
        ),
        (
            "delete",
            "/v1/projects/{project}/environments/{env}/segments/{key}",
            format!("{DEV}/segments/s-del"),
            None,
            editor,
        ),
        (
            "put",
            "/v1/projects/{project}/flags/{key}",
            format!("{P}/flags/f1"),
            Some(json!({"type": "boolean", "variants": {"on": true, "off": false}, "owner": "x"})),
            publisher,
        ),
        (
            "delete",
            "/v1/projects/{project}/flags/{key}",
            format!("{P}/flags/f-del"),
            None,
            publisher,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/rollback",
            format!("{DEV}/rollback"),
            Some(json!({"version": 1})),
            publisher,
        ),
        (
            "put",
            "/v1/projects/{project}",
            P.into(),
            Some(json!({"name": "Default"})),
            admin,
        ),
        (
            "post",
            "/v1/projects/{project}/environments",
            format!("{P}/environments"),
            Some(json!({"key": "qa"})),
            admin,
        ),
        (
            "put",
            "/v1/projects/{project}/environments/{env}",
            DEV.into(),
            Some(json!({"name": "Dev", "protected": false})),
            admin,
        ),
        (
            "delete",
            "/v1/projects/{project}/environments/{env}",
            format!("{P}/environments/tmp"),
            None,
            admin,
        ),
        (
            "get",
            "/v1/tokens",
            "/v1/tokens?project=default".into(),
            None,
            admin,
        ),
        (
            "post",
            "/v1/tokens",
            "/v1/tokens".into(),
            Some(json!({"kind": "sdk", "project": "default", "environment": "staging"})),
            admin,
        ),
        (
            "delete",
            "/v1/tokens/{id}",
            format!("/v1/tokens/{victim}"),
            None,
            admin,
        ),
        (
            "get",
            "/v1/audit",
            "/v1/audit?project=default".into(),
            None,
            admin,
        ),
        (
            "get",
            "/v1/users",
            "/v1/users?project=default".into(),
            None,
            admin,
        ),
        (
            "post",
            "/v1/users",
            "/v1/users".into(),
            Some(json!({"email": "new@example.com", "role": "viewer", "project": "default"})),
            admin,
        ),
        (
            "delete",
            "/v1/users/{id}",
            format!("/v1/users/{user_victim}"),
            None,
            admin,
        ),
        ("get", "/v1/projects", "/v1/projects".into(), None, viewer),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/events/recent",
            format!("{DEV}/events/recent"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/experiments/{flag}/results",
            format!("{P}/experiments/exp/results?environment=development"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/keys",
            format!("{DEV}/keys"),
            None,
            viewer,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/flags/{key}/evaluate",
            format!("{DEV}/flags/f1/evaluate"),
            Some(json!({"context": {"targetingKey": "u1"}})),
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/stale-flags",
            format!("{P}/stale-flags"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/changes",
            format!("{P}/changes"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/audit/verify",
            "/v1/audit/verify".into(),
            None,
            None,
        ),
        (
            "post",
            "/v1/projects",
            "/v1/projects".into(),
            Some(json!({"key": "p3"})),
            None,
        ),
        (
            "delete",
            "/v1/projects/{project}",
            "/v1/projects/doomed".into(),
            None,
            None,
        ),
        (
            "get",
            "/v1/projects/{project}/services",
            format!("{P}/services"),
            None,
            viewer,
        ),
        (
            "put",
            "/v1/projects/{project}/services/{service}",
            format!("{P}/services/svc2"),
            Some(json!({"description": "x"})),
            editor,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/services/{service}/configs",
            format!("{svc}/configs"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}",
            format!("{svc}/configs/c1"),
            None,
            viewer,
        ),
        (
            "put",
            "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}",
            format!("{svc}/configs/c1"),
            Some(json!({"value": "2"})),
            editor,
        ),
        (
            "delete",
            "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}",
            format!("{svc}/configs/c-del"),
            None,
            editor,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/services/{service}/bulk",
            format!("{svc}/bulk"),
            Some(json!({"configs": {"c3": {"value": "3"}}})),
            editor,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/history",
            format!("{svc}/configs/c1/history"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/diff",
            format!("{svc}/configs/c1/diff?from=1&to=1"),
            None,
            viewer,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/rollback",
            format!("{svc}/configs/c1/rollback"),
            Some(json!({"revision": 1})),
            editor,
        ),
        (
            "get",
            "/v1/projects/{project}/webhooks",
            format!("{P}/webhooks"),
            None,
            admin,
        ),
        (
            "post",
            "/v1/projects/{project}/webhooks",
            format!("{P}/webhooks"),
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
            admin,
        ),
        (
            "delete",
            "/v1/projects/{project}/webhooks/{id}",
            format!("{P}/webhooks/{}", hooks[0]),
            None,
            admin,
        ),
        (
            "get",
            "/v1/projects/{project}/webhooks/{id}/deliveries",
            format!("{P}/webhooks/{}/deliveries", hooks[1]),
            None,
            admin,
        ),
        (
            "get",
            "/api/v1/config",
            format!("/api/v1/config?{seed_q}"),
            None,
            viewer,
        ),
        (
            "post",
            "/api/v1/config",
            "/api/v1/config".into(),
            Some(
                json!({"key": "seed1", "value": 1, "environment": "development",
                "service_name": "checkout", "project": "default"}),
            ),
            editor,
        ),
        (
            "post",
            "/api/v1/config/bulk",
            "/api/v1/config/bulk".into(),
            Some(
                json!({"environment": "development", "service_name": "checkout",
                "project": "default", "configs": [{"key": "seed2", "value": 2}]}),
            ),
            editor,
        ),
        (
            "get",
            "/api/v1/config/{key}",
            format!("/api/v1/config/c1?{seed_q}"),
            None,
            viewer,
        ),
        (
            "put",
            "/api/v1/config/{key}",
            "/api/v1/config/c1".into(),
            Some(
                json!({"value": 5, "environment": "development", "service_name": "checkout",
                "project": "default"}),
            ),
            editor,
        ),
        (
            "delete",
            "/api/v1/config/{key}",
            format!("/api/v1/config/c-del2?{seed_q}"),
            None,
            editor,
        ),
        (
            "get",
            "/api/v1/config/{key}/history",
            format!("/api/v1/config/c1/history?{seed_q}"),
            None,
            viewer,
        ),
    ];
    let mut cases = cases;
    cases.extend(super::roles_registry::registry_cases(f).await);
    // The table covers every authenticated route of the API (`POST /v1/events` takes SDK keys
    // only; tests/events_api.rs covers it).
    let covered: BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.0.to_owned(), c.1.to_owned()))
        .collect();
    let all: BTreeSet<(String, String)> = crate::common::openapi::operations()
        .into_iter()
        .filter(|(m, t)| {
            let role = crate::common::openapi::operation(m, t).unwrap()["x-burgee-role"]
                .as_str()
                .unwrap();
            // Client-side keys are tested in the client snapshot tests, session-cookie
            // routes in tests/it/session.rs.
            role != "none" && !role.contains("client-side key") && role != "session cookie"
        })
        .collect();
    assert_eq!(covered, all);

    let ranked = [
        (Role::Viewer, &t.viewer),
        (Role::Editor, &t.editor),
        (Role::Publisher, &t.publisher),
        (Role::Admin, &t.admin),
    ];
    for (method, template, uri, body, least) in &cases {
        let m = method.to_uppercase();
        let extra: &[(&str, &str)] = if matches!(*method, "put" | "delete") {
            &[("if-match", "*")]
        } else {
            &[]
        };
        let what = format!("{m} {uri}");
        let r = call(f, &m, uri, None, body.as_ref(), extra).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED".into()),
            "{what} without a token"
        );
        let r = call(f, &m, uri, Some("bga_not-a-token"), body.as_ref(), extra).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{what} with an unknown token"
        );
        // The registry's routes take a server-side SDK key of the environment too.
        let registry_role =
            crate::common::openapi::operation(method, template).unwrap()["x-burgee-role"]
                .as_str()
                .unwrap()
                .contains("server-side SDK key");
        let sdk_allowed = template.starts_with("/v1/snapshots")
            || template.starts_with("/v1/stream")
            || registry_role;
        if !sdk_allowed {
            let r = call(f, &m, uri, Some(&t.sdk_dev), body.as_ref(), extra).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "FORBIDDEN".into()),
                "{what} with an SDK key"
            );
        }
        if template.contains("{project}") || uri.contains("project=") {
            let r = call(f, &m, uri, Some(&t.other_admin), body.as_ref(), extra).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{what} with another project's admin"
            );
        }
        let allowed: &str = match least {
            Some(least) => {
                for (role, tok) in ranked.iter().filter(|(r, _)| r < least) {
                    let r = call(f, &m, uri, Some(tok), body.as_ref(), extra).await;
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what} as {role:?}");
                }
                ranked.iter().find(|(r, _)| r == least).unwrap().1
            }
            None => {
                let r = call(f, &m, uri, Some(&t.admin), body.as_ref(), extra).await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{what} needs an all-projects admin"
                );
                f.admin()
            }
        };
        let r = call(f, &m, uri, Some(allowed), body.as_ref(), extra).await;
        assert!(
            r.status.is_success(),
            "{what} as {least:?}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }

    // SDK keys: their own environment's snapshot and stream only.
    let r = call(
        f,
        "GET",
        "/v1/snapshots/development",
        Some(&t.sdk_dev),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        f,
        "GET",
        "/v1/stream/development",
        Some(&t.sdk_dev),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for uri in [
        "/v1/snapshots/production",
        "/v1/stream/staging",
        "/v1/snapshots/development?project=other",
    ] {
        let r = call(f, "GET", uri, Some(&t.sdk_dev), None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
    }
    // Protected environments need publisher even for targeting.
    let r = call(
        f,
        "PUT",
        &format!("{PROD}/flags/f1"),
        Some(&t.editor),
        Some(&targeting_on()),
        &[("if-match", "*")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        f,
        "PUT",
        &format!("{PROD}/flags/f1"),
        Some(&t.publisher),
        Some(&targeting_on()),
        &[("if-match", "*")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // The revoked token is refused from now on.
    let r = call(f, "GET", P, Some(&t.viewer), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let viewer_id = f
        .state
        .tokens(Some("default"))
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.role == Some(Role::Viewer) && x.revoked_at.is_none() && x.id != victim)
        .unwrap()
        .id;
    f.state.revoke_token("test", &viewer_id).await.unwrap();
    let r = call(f, "GET", P, Some(&t.viewer), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Operations endpoints need no token.
    let ui = call(f, "GET", "/swagger-ui/", None, None, &[]).await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&ui.body).contains("swagger"));
    let doc = call(f, "GET", "/openapi.json", None, None, &[])
        .await
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    for uri in ["/health", "/live", "/ready", "/metrics", "/openapi.json"] {
        assert_eq!(
            call(f, "GET", uri, None, None, &[]).await.status,
            StatusCode::OK,
            "{uri}"
        );
    }
}
both!(every_route_enforces_roles, false);
