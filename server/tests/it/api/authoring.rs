//! Authoring through the API: the If-Match flow, refused writes with field paths, versions,
//! diff and rollback, projects and environments.

use super::*;

async fn authoring_flow_with_if_match(f: &Fixture) {
    let created = send(
        f,
        "POST",
        &format!("{P}/flags"),
        &boolean_flag("new-checkout"),
        None,
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(created.etag(), "\"r1\"");
    let body = created.json();
    assert_eq!(body["item"]["environments"]["production"]["enabled"], false);
    let published: Vec<u64> = body["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["version"].as_u64().unwrap())
        .collect();
    assert_eq!(published, [2, 2, 2], "every environment publishes once");
    let again = send(
        f,
        "POST",
        &format!("{P}/flags"),
        &boolean_flag("new-checkout"),
        None,
    )
    .await;
    assert_eq!(
        (again.status, again.code().as_str()),
        (StatusCode::CONFLICT, "CONFLICT")
    );

    let mut other = json!({"key": "banner-text", "type": "string",
        "variants": {"a": "Hello", "b": "Hi"}, "tags": ["ui"], "owner": "team-a",
        "description": "Home page banner"});
    other["environments"] = json!({"development": {"enabled": true, "off_variant": "a",
        "default": {"variant": "b"}}});
    send(f, "POST", &format!("{P}/flags"), &other, None)
        .await
        .expect(StatusCode::CREATED);
    let keys = |r: Reply| -> Vec<String> {
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        keys(get(f, &format!("{P}/flags")).await),
        ["banner-text", "new-checkout"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?tag=ui")).await),
        ["banner-text"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?owner=team-a")).await),
        ["banner-text"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?type=boolean")).await),
        ["new-checkout"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?q=BANNER")).await),
        ["banner-text"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?q=home%20page")).await),
        ["banner-text"]
    );

    // Targeting in development: If-Match required, stale refused, then applied.
    let url = format!("{DEV}/flags/new-checkout");
    let read = get(f, &url).await.expect(StatusCode::OK);
    let tag = read.etag();
    let missing = send(f, "PUT", &url, &targeting_on(), None).await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::PRECONDITION_REQUIRED, "PRECONDITION_REQUIRED")
    );
    let prod_before = latest_version(f, "default", "production").await;
    let dev_before = latest_version(f, "default", "development").await;
    let ok = send(f, "PUT", &url, &targeting_on(), Some(&tag))
        .await
        .expect(StatusCode::OK);
    assert_eq!(ok.etag(), "\"r2\"");
    assert_eq!(ok.json()["published"][0]["version"], dev_before + 1);
    assert_eq!(
        latest_version(f, "default", "production").await,
        prod_before
    );
    // A second editor still holding r1 is refused instead of overwriting silently.
    let stale = send(
        f,
        "PUT",
        &url,
        &json!({"enabled": false, "off_variant": "off",
        "default": {"variant": "off"}}),
        Some(&tag),
    )
    .await;
    assert_eq!(
        (stale.status, stale.code().as_str()),
        (StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED")
    );

    // The new development snapshot serves the change.
    let env = call(
        f,
        "GET",
        "/v1/snapshots/development",
        Some(f.creds.sdk_key("development").unwrap()),
        None,
        &[],
    )
    .await
    .expect(StatusCode::OK);
    let keys = [f.public_key("development")];
    let snap =
        Snapshot::load(&env.body, &LoadOptions::new(&keys, "development", now_ms())).unwrap();
    assert_eq!(snap.info().version, dev_before + 1);
    let d = snap.evaluate("new-checkout", &Context::new("u1"), now_ms());
    assert_eq!(d.variant, Some("on"));
    let d = snap.evaluate("banner-text", &Context::new("u1"), now_ms());
    assert_eq!(d.variant, Some("b"));
    assert_eq!(
        serde_json::to_value(&d).unwrap()["metadata"]["owner"],
        "team-a"
    );

    // Project-wide definition: stale 412, current 200 (revision 2), publishes everywhere.
    let flag_url = format!("{P}/flags/banner-text");
    let spec = json!({"type": "string", "variants": {"a": "Hello", "b": "Hi", "c": "Hey"},
        "tags": ["ui", "home"], "owner": "team-b"});
    let stale = send(f, "PUT", &flag_url, &spec, Some("\"r7\"")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let updated = send(f, "PUT", &flag_url, &spec, Some("\"r1\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(updated.etag(), "\"r2\"");
    assert_eq!(updated.json()["published"].as_array().unwrap().len(), 3);
    assert_eq!(get(f, &flag_url).await.json()["owner"], "team-b");

    // Delete: If-Match, then gone from the flag list and the next snapshot.
    send(f, "DELETE", &flag_url, &json!(null), Some("\"r2\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(get(f, &flag_url).await.status, StatusCode::NOT_FOUND);
    let s = f
        .state
        .latest_snapshot("default", "development")
        .await
        .unwrap()
        .unwrap();
    assert!(!decode(&s.envelope).contains("banner-text"));
}
both!(authoring_flow_with_if_match, false);

async fn invalid_writes_are_refused_with_field_paths(f: &Fixture) {
    send(f, "POST", &format!("{P}/flags"), &boolean_flag("a"), None)
        .await
        .expect(StatusCode::CREATED);
    send(f, "POST", &format!("{P}/flags"), &boolean_flag("b"), None)
        .await
        .expect(StatusCode::CREATED);
    let before = latest_version(f, "default", "development").await;
    let audit_before = f
        .state
        .audit_entries(&Default::default())
        .await
        .unwrap()
        .len();

    let refused = |r: Reply, field_prefix: &str| {
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let body = r.json();
        assert_eq!(body["code"], "SNAPSHOT_INVALID");
        let field = body["field"].as_str().unwrap_or_default().to_owned();
        assert!(
            field.starts_with(field_prefix),
            "field {field:?}, wanted {field_prefix}..."
        );
    };
    let url = format!("{DEV}/flags/a");
    let bad_regex = json!({"enabled": true, "off_variant": "off", "default": {"variant": "off"},
        "rules": [{"id": "r1", "when": {"attribute": "email", "op": "matches", "value": "("},
                   "serve": {"variant": "on"}}]});
    refused(
        send(f, "PUT", &url, &bad_regex, Some("*")).await,
        "flags[a].rules[r1]",
    );
    let unknown_segment = json!({"enabled": true, "off_variant": "off", "default": {"variant": "off"},
        "rules": [{"id": "r1", "when": {"op": "in_segment", "values": ["nope"]},
                   "serve": {"variant": "on"}}]});
    refused(
        send(f, "PUT", &url, &unknown_segment, Some("*")).await,
        "flags[a].rules[r1]",
    );
    let unknown_variant =
        json!({"enabled": true, "off_variant": "off", "default": {"variant": "maybe"}});
    refused(
        send(f, "PUT", &url, &unknown_variant, Some("*")).await,
        "flags[a]",
    );
    // a requires b (fine), then b requires a: a cycle.
    let requires = |other: &str| {
        json!({"enabled": true, "off_variant": "off", "default": {"variant": "on"},
        "prerequisites": [{"flag": other, "variants": ["on"]}]})
    };
    send(f, "PUT", &url, &requires("b"), Some("*"))
        .await
        .expect(StatusCode::OK);
    let cycle = send(
        f,
        "PUT",
        &format!("{DEV}/flags/b"),
        &requires("a"),
        Some("*"),
    )
    .await;
    refused(cycle, "flags[");
    let after_valid = latest_version(f, "default", "development").await;
    assert_eq!(after_valid, before + 1, "only the valid write published");

    // JSON Schema of remote configuration.
    let schema = json!({"type": "object", "required": ["limit"],
        "properties": {"limit": {"type": "integer", "minimum": 1}}});
    let config = json!({"key": "limits", "type": "object", "schema": schema,
        "variants": {"normal": {"limit": 10}, "broken": {"limit": 0}}});
    refused(
        send(f, "POST", &format!("{P}/flags"), &config, None).await,
        "variants.broken/limit",
    );
    let bad_schema = json!({"key": "limits", "type": "object", "schema": {"type": 5},
        "variants": {"normal": {"limit": 10}}});
    refused(
        send(f, "POST", &format!("{P}/flags"), &bad_schema, None).await,
        "schema",
    );
    let good = json!({"key": "limits", "type": "object", "schema": schema,
        "variants": {"normal": {"limit": 10}, "strict": {"limit": 1}}});
    send(f, "POST", &format!("{P}/flags"), &good, None)
        .await
        .expect(StatusCode::CREATED);
    let breaking =
        json!({"type": "object", "schema": schema, "variants": {"normal": {"limit": "ten"}}});
    refused(
        send(
            f,
            "PUT",
            &format!("{P}/flags/limits"),
            &breaking,
            Some("\"r1\""),
        )
        .await,
        "variants.normal/limit",
    );
    refused(
        send(f, "POST", &format!("{P}/flags"), &boolean_flag("a b"), None).await,
        "key",
    );

    // Malformed or unknown input is 400 with the stable error shape.
    for (body, what) in [
        ("{", "truncated"),
        ("{\"key\": 5}", "wrong type"),
        (
            "{\"key\":\"x\",\"type\":\"boolean\",\"variants\":{},\"colour\":1}",
            "unknown field",
        ),
    ] {
        let req = Request::post(format!("{P}/flags"))
            .header(header::AUTHORIZATION, format!("Bearer {}", f.admin()))
            .body(Body::from(body))
            .unwrap();
        let resp = f.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{what}");
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["code"], "BAD_REQUEST", "{what}");
    }
    // Body over the limit (64 KiB in these tests): 413 in the same shape.
    let huge = json!({"key": "x".repeat(100_000)});
    let r = send(f, "POST", &format!("{P}/flags"), &huge, None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );
    // Path parameters of the wrong type, unknown routes and methods: JSON errors too.
    let r = get(f, &format!("{DEV}/versions/notanumber")).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST")
    );
    // Numbers beyond BIGINT in queries and paths: answers, never a 5xx.
    let huge = u64::MAX;
    let r = get(f, &format!("{DEV}/versions/{huge}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(f, &format!("{DEV}/versions?before={huge}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(f, &format!("{DEV}/diff?from={huge}&to=1")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        f,
        "POST",
        &format!("{DEV}/rollback"),
        &json!({"version": huge}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(
        f,
        &format!("/v1/audit?since={huge}&after_seq={huge}&until={huge}"),
    )
    .await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!([])));
    let r = get(f, "/v1/nothing").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    let r = call(
        f,
        "PATCH",
        &format!("{P}/flags"),
        Some(f.admin()),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );

    let audit_after = f
        .state
        .audit_entries(&Default::default())
        .await
        .unwrap()
        .len();
    assert_eq!(
        audit_after,
        audit_before + 2,
        "refused writes leave no audit entries"
    );
}
both!(invalid_writes_are_refused_with_field_paths, false);

async fn versions_diff_and_rollback(f: &Fixture) {
    send(f, "POST", &format!("{P}/flags"), &boolean_flag("f"), None)
        .await
        .expect(StatusCode::CREATED);
    send(
        f,
        "PUT",
        &format!("{PROD}/flags/f"),
        &targeting_on(),
        Some("\"r1\""),
    )
    .await
    .expect(StatusCode::OK);
    let seg = json!({"key": "staff", "included": ["u1"]});
    send(f, "POST", &format!("{PROD}/segments"), &seg, None)
        .await
        .expect(StatusCode::CREATED);

    let versions = get(f, &format!("{PROD}/versions"))
        .await
        .expect(StatusCode::OK)
        .json();
    let listed: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [4, 3, 2, 1]);
    assert_eq!(versions[0]["reason"], "segment.create staff");
    assert_eq!(versions[1]["reason"], "targeting.update f");
    let paged = get(f, &format!("{PROD}/versions?before=3&limit=1"))
        .await
        .json();
    assert_eq!(paged[0]["version"], 2);

    // Any old envelope, exactly as served then, still verifies.
    let old = get(f, &format!("{PROD}/versions/2"))
        .await
        .expect(StatusCode::OK);
    let keys = [f.public_key("production")];
    let snap = Snapshot::load(&old.body, &LoadOptions::new(&keys, "production", now_ms())).unwrap();
    assert_eq!(snap.info().version, 2);
    assert_eq!(
        old.etag(),
        format!("\"{}\"", snap.info().digest.as_deref().unwrap())
    );
    assert_eq!(
        get(f, &format!("{PROD}/versions/99")).await.status,
        StatusCode::NOT_FOUND
    );

    let diff = get(f, &format!("{PROD}/diff?from=2&to=4"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        diff["changes"],
        json!([
            {"kind": "flag", "key": "f", "change": "changed", "fields": ["default", "enabled"]},
            {"kind": "segment", "key": "staff", "change": "added", "fields": []},
        ])
    );
    let diff = get(f, &format!("{PROD}/diff?from=1&to=2")).await.json();
    assert_eq!(diff["changes"][0]["change"], "added");
    assert_eq!(
        get(f, &format!("{PROD}/diff?from=1")).await.status,
        StatusCode::BAD_REQUEST
    );

    // Roll back to 2: a new version 5 with version 2's content.
    let r = send(
        f,
        "POST",
        &format!("{PROD}/rollback"),
        &json!({"version": 2}),
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(r["published"][0]["version"], 5);
    assert_eq!(r["item"]["reason"], "rollback to 2");
    assert_eq!(latest_version(f, "default", "production").await, 5);
    let diff = get(f, &format!("{PROD}/diff?from=2&to=5")).await.json();
    assert_eq!(diff["changes"], json!([]));
    assert_eq!(
        get(f, &format!("{PROD}/flags/f")).await.json()["enabled"],
        false
    );
    assert_eq!(get(f, &format!("{PROD}/segments")).await.json(), json!([]));
    let r = send(
        f,
        "POST",
        &format!("{PROD}/rollback"),
        &json!({"version": 77}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Versions stay immutable: version 4 is unchanged and still listed.
    let v4 = get(f, &format!("{PROD}/versions/4")).await;
    assert!(decode(&String::from_utf8(v4.body).unwrap()).contains("staff"));
}
both!(versions_diff_and_rollback, false);

async fn projects_and_environments(f: &Fixture) {
    let created = send(
        f,
        "POST",
        "/v1/projects",
        &json!({"key": "shop2", "name": "Shop two"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED)
    .json();
    assert_eq!(created["published"].as_array().unwrap().len(), 3);
    assert!(f.dir.path().join("keys/shop2/production.pub").exists());
    let envs = get(f, "/v1/projects/shop2/environments").await.json();
    let keys: Vec<&str> = envs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["development", "production", "staging"]);
    assert_eq!(envs[1]["protected"], true);
    assert_eq!(envs[0]["protected"], false);
    let dup = send(f, "POST", "/v1/projects", &json!({"key": "shop2"}), None).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);

    // Two projects now have "production": the admin token must say which.
    let r = get(f, "/v1/snapshots/production").await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("project"))
    );
    let r = get(f, "/v1/snapshots/production?project=shop2")
        .await
        .expect(StatusCode::OK);
    let keys = [read_trusted_key(&f.dir.path().join("keys/shop2/production.pub")).unwrap()];
    Snapshot::load(&r.body, &LoadOptions::new(&keys, "production", now_ms())).unwrap();

    let qa = "/v1/projects/shop2/environments/qa";
    send(
        f,
        "POST",
        "/v1/projects/shop2/environments",
        &json!({"key": "qa"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED);
    let upd = send(
        f,
        "PUT",
        qa,
        &json!({"name": "QA", "protected": true}),
        Some("\"r1\""),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(upd.json()["item"]["protected"], true);
    let r = send(
        f,
        "PUT",
        qa,
        &json!({"name": "QA", "protected": true}),
        Some("\"r1\""),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    send(
        f,
        "PUT",
        "/v1/projects/shop2",
        &json!({"name": "Shop 2"}),
        Some("\"r1\""),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(get(f, "/v1/projects/shop2").await.etag(), "\"r2\"");

    // Deleting and recreating an environment never reuses a version number.
    send(f, "DELETE", qa, &json!(null), Some("\"r2\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(get(f, qa).await.status, StatusCode::NOT_FOUND);
    let again = send(
        f,
        "POST",
        "/v1/projects/shop2/environments",
        &json!({"key": "qa"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED)
    .json();
    assert_eq!(again["published"][0]["version"], 2);

    send(f, "DELETE", "/v1/projects/shop2", &json!(null), Some("*"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        get(f, "/v1/projects/shop2").await.status,
        StatusCode::NOT_FOUND
    );
    let projects = get(f, "/v1/projects").await.json();
    assert_eq!(projects.as_array().unwrap().len(), 1);
}
both!(projects_and_environments, false);
