//! Tokens, the audit chain, snapshot ETags and compression, key rotation.

use super::*;

async fn tokens_are_hashed_and_shown_once(f: &Fixture) {
    let r = send(
        f,
        "POST",
        "/v1/tokens",
        &json!({"kind": "admin", "role": "editor", "project": "default", "name": "ci"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED)
    .json();
    let secret = r["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("bga_") && secret.len() == 68);
    let listed = get(f, "/v1/tokens").await.json().to_string();
    assert!(!listed.contains(&secret) && listed.contains("\"ci\""));
    let stored: Vec<String> = sqlx::query_scalar("SELECT hash FROM tokens")
        .fetch_all(&f.state.store().pool)
        .await
        .unwrap();
    assert!(stored.contains(&burgee_server::auth::token_hash(&secret)));
    assert!(!stored.iter().any(|h| h.contains("bga_")));
    let bad = send(
        f,
        "POST",
        "/v1/tokens",
        &json!({"kind": "sdk", "project": "default"}),
        None,
    )
    .await;
    assert_eq!(
        (bad.status, bad.json()["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("environment"))
    );
    let bad = send(f, "POST", "/v1/tokens", &json!({"kind": "root"}), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
both!(tokens_are_hashed_and_shown_once, false);

async fn audit_log_records_and_chain_detects_tampering(f: &Fixture) {
    send(f, "POST", &format!("{P}/flags"), &boolean_flag("f"), None)
        .await
        .expect(StatusCode::CREATED);
    send(
        f,
        "PUT",
        &format!("{DEV}/flags/f"),
        &targeting_on(),
        Some("\"r1\""),
    )
    .await
    .expect(StatusCode::OK);
    let entries = get(f, "/v1/audit?project=default&action=targeting.update")
        .await
        .expect(StatusCode::OK)
        .json();
    let e = &entries[0];
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(e["environment"], "development");
    assert_eq!(e["resource"], "flag:f");
    assert!(e["actor"].as_str().unwrap().starts_with("tok_"));
    assert!(e["at"].as_u64().unwrap() > 1_700_000_000_000);
    let before: Value = serde_json::from_str(e["before"].as_str().unwrap()).unwrap();
    let after: Value = serde_json::from_str(e["after"].as_str().unwrap()).unwrap();
    assert_eq!(
        (before["enabled"].clone(), after["enabled"].clone()),
        (json!(false), json!(true))
    );
    let created = get(f, "/v1/audit?resource=flag:f&action=flag.create")
        .await
        .json();
    assert!(created[0]["before"].is_null());
    let all = get(f, "/v1/audit?limit=1000").await.json();
    let n = all.as_array().unwrap().len() as u64;
    let page = get(f, "/v1/audit?after_seq=2&limit=2").await.json();
    assert_eq!(page[0]["seq"], 3);
    assert_eq!(page.as_array().unwrap().len(), 2);

    assert_eq!(f.state.verify_audit().await.unwrap(), n);
    // Edit one row's content: detected at that row.
    let pool = &f.state.store().pool;
    sqlx::query("UPDATE audit_log SET after = '{\"enabled\":false}' WHERE seq = $1")
        .bind(i64::try_from(e["seq"].as_u64().unwrap()).unwrap())
        .execute(pool)
        .await
        .unwrap();
    match f.state.verify_audit().await {
        Err(StateError::AuditBroken(b)) => assert_eq!(b.seq, e["seq"].as_u64().unwrap()),
        other => panic!("tampering not detected: {other:?}"),
    }
    // The console asks the API, which says the same.
    let status = get(f, "/v1/audit/verify").await.json();
    assert_eq!(
        (&status["intact"], &status["broken_at"]),
        (&json!(false), &e["seq"])
    );
    assert!(status["problem"].as_str().is_some_and(|p| !p.is_empty()));
    // Restore it, then delete the last row: the chain head notices.
    sqlx::query("UPDATE audit_log SET after = $1 WHERE seq = $2")
        .bind(e["after"].as_str().unwrap())
        .bind(i64::try_from(e["seq"].as_u64().unwrap()).unwrap())
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(f.state.verify_audit().await.unwrap(), n);
    let status = get(f, "/v1/audit/verify").await.json();
    assert_eq!(
        (&status["intact"], &status["entries"], &status["broken_at"]),
        (&json!(true), &json!(n), &Value::Null)
    );
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(i64::try_from(n).unwrap())
        .execute(pool)
        .await
        .unwrap();
    assert!(matches!(
        f.state.verify_audit().await,
        Err(StateError::AuditBroken(_))
    ));
}
both!(audit_log_records_and_chain_detects_tampering, false);

async fn snapshots_honour_etags_and_compress(f: &Fixture) {
    let sdk = f.creds.sdk_key("production").unwrap().to_owned();
    let r = call(f, "GET", "/v1/snapshots/production", Some(&sdk), None, &[])
        .await
        .expect(StatusCode::OK);
    let etag = r.etag();
    let keys = [f.public_key("production")];
    let snap = Snapshot::load(&r.body, &LoadOptions::new(&keys, "production", now_ms())).unwrap();
    assert_eq!(
        etag,
        format!("\"{}\"", snap.info().digest.as_deref().unwrap())
    );
    assert!(snap.flag_keys().count() >= 25, "the demo's flags");
    let r = call(
        f,
        "GET",
        "/v1/snapshots/production",
        Some(&sdk),
        None,
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    for enc in ["gzip", "br"] {
        let r = call(
            f,
            "GET",
            "/v1/snapshots/production",
            Some(&sdk),
            None,
            &[("accept-encoding", enc)],
        )
        .await;
        assert_eq!(r.headers[header::CONTENT_ENCODING], enc);
        assert!(r.body.len() * 3 < snap_len(f).await, "{enc} compresses");
    }
    // Republishing (same content) gives a new version and ETag; the old one gets the body.
    f.state
        .republish("webshop", "production", "test", "re-sign")
        .await
        .unwrap();
    let r = call(
        f,
        "GET",
        "/v1/snapshots/production",
        Some(&sdk),
        None,
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.etag(), etag);
}
both!(snapshots_honour_etags_and_compress, true);

async fn snap_len(f: &Fixture) -> usize {
    f.state
        .latest_snapshot("webshop", "production")
        .await
        .unwrap()
        .unwrap()
        .envelope
        .len()
}

async fn key_rotation_keeps_old_key_trusted_until_retired(f: &Fixture) {
    let fetch = || async {
        call(
            f,
            "GET",
            "/v1/snapshots/production",
            Some(f.admin()),
            None,
            &[],
        )
        .await
        .body
    };
    let old_key = f.public_key("production");
    let name = f.state.key_name("default", "production").await.unwrap();
    let env_var = burgee_server::keys::key_env_var("default", "production");
    let files = burgee_server::keys::rotate(f.state.keys_dir(), &name, &env_var).unwrap();
    let new_key = read_trusted_key(&files.public_key).unwrap();
    assert_ne!(new_key.keyid(), old_key.keyid());
    f.state
        .republish("default", "production", "test", "key rotation")
        .await
        .unwrap();
    let body = fetch().await;
    for key in [&old_key, &new_key] {
        let trusted = [key.clone()];
        let s = Snapshot::load(&body, &LoadOptions::new(&trusted, "production", now_ms())).unwrap();
        assert_eq!(s.info().keyid.as_deref(), Some(key.keyid()));
    }
    assert_eq!(
        burgee_server::keys::retire(f.state.keys_dir(), &name).unwrap(),
        1
    );
    f.state
        .republish("default", "production", "test", "key retirement")
        .await
        .unwrap();
    let body = fetch().await;
    let only_old = [old_key];
    let err =
        Snapshot::load(&body, &LoadOptions::new(&only_old, "production", now_ms())).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeyUntrusted);
    let only_new = [new_key];
    Snapshot::load(&body, &LoadOptions::new(&only_new, "production", now_ms())).unwrap();
}
both!(key_rotation_keeps_old_key_trusted_until_retired, false);
