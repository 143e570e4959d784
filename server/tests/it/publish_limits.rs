//! What the server refuses to publish and who may publish (issue "Hardening", item 3), on
//! SQLite and — every test again — PostgreSQL (`BURGEE_TEST_DATABASE_URL`; without it the
//! PostgreSQL half fails when `CI=true` and is skipped with a notice otherwise):
//!
//! - a write whose server envelope or client envelope would be larger than SDKs accept by
//!   default (`burgee_core::DEFAULT_MAX_ENVELOPE_BYTES`, 8 MiB) is `422 SNAPSHOT_INVALID`
//!   naming the envelope, its size and the limit, and changes nothing;
//! - creating a flag publishes every environment, so it needs `publisher` when one of them is
//!   protected, and the flag starts OFF where no targeting was given;
//! - permission lookups fail closed: a protection flag other than 0/1 counts as protected, and
//!   a lookup that errors is a 500, never a grant.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use axum::http::StatusCode;
use burgee_core::DEFAULT_MAX_ENVELOPE_BYTES;
use burgee_server::error::StateError;
use burgee_server::model::Role;
use serde_json::{Value, json};

use crate::fixture::{
    DEV, Fixture, P, PROD, audit_count, call, document, sql, stored_versions, token,
};

/// Request bodies up to 8 MiB, so one request can carry an oversized snapshot.
const BIG_BODY: usize = 8 << 20;

fn boolean_flag(key: &str) -> Value {
    json!({"key": key, "type": "boolean", "variants": {"on": true, "off": false}})
}

fn targeting_on() -> Value {
    json!({"enabled": true, "off_variant": "off", "default": {"variant": "on"}})
}

/// The byte count after `would be ` in an envelope size message.
fn size_in(message: &str) -> usize {
    let rest = message
        .split_once("would be ")
        .unwrap_or_else(|| panic!("no size in {message:?}"))
        .1;
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// Asserts that a refused write left no trace: no flag `key`, no new version anywhere, no
/// `flag.create` audit entry beyond `audits`.
async fn nothing_stored(
    f: &Fixture,
    key: &str,
    before: &std::collections::BTreeMap<String, u64>,
    audits: i64,
) {
    call(f, "GET", &format!("{P}/flags/{key}"), &f.admin, None)
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(&stored_versions(f, "default").await, before);
    assert_eq!(audit_count(f, "flag.create").await, audits);
    let flags: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flag_targeting WHERE flag = $1")
        .bind(key)
        .fetch_one(&f.state.store().pool)
        .await
        .unwrap();
    assert_eq!(flags, 0, "targeting rows of {key} survived the rollback");
}

async fn oversized_server_envelope_is_refused(f: &Fixture) {
    let before = stored_versions(f, "default").await;
    let audits = audit_count(f, "flag.create").await;
    // One 6.4 MB string value: base64 makes the envelope 4/3 of the payload, > 8 MiB, while
    // the request itself stays under the body limit.
    let huge = "x".repeat(6_400_000);
    let body = json!({"key": "huge", "type": "string",
        "variants": {"off": "", "on": huge}});
    let r = call(f, "POST", &format!("{P}/flags"), &f.admin, Some(&body))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "SNAPSHOT_INVALID");
    let message = r.message();
    // Environments publish in key order: development is the first to overflow.
    assert!(
        message.contains("server snapshot envelope of default/development"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{DEFAULT_MAX_ENVELOPE_BYTES}-byte limit")),
        "{message}"
    );
    assert!(size_in(&message) > DEFAULT_MAX_ENVELOPE_BYTES, "{message}");
    nothing_stored(f, "huge", &before, audits).await;

    // The refusal rolled everything back: the next write publishes the very next versions.
    call(
        f,
        "POST",
        &format!("{P}/flags"),
        &f.admin,
        Some(&boolean_flag("small")),
    )
    .await
    .expect(StatusCode::CREATED);
    let after = stored_versions(f, "default").await;
    for (env, v) in &before {
        assert_eq!(after[env], v + 1, "{env}");
    }
}
both!(oversized_server_envelope_is_refused, super::BIG_BODY);

async fn oversized_client_envelope_is_refused(f: &Fixture) {
    let before = stored_versions(f, "default").await;
    let audits = audit_count(f, "flag.create").await;
    // 100,000 short targeting keys: under 1 MB in the server snapshot, but the client
    // snapshot carries each as a 64-digit salted digest (spec/SNAPSHOT.md §9): ~6.7 MB of
    // payload, ~8.9 MB of envelope.
    let keys: Vec<String> = (0..100_000).map(|i| format!("u{i}")).collect();
    let body = json!({"key": "wide", "type": "boolean", "variants": {"on": true, "off": false},
        "client_visible": true,
        "environments": {"development": {"enabled": true, "off_variant": "off",
            "targets": [{"variant": "on", "keys": keys}], "default": {"variant": "off"}}}});
    let r = call(f, "POST", &format!("{P}/flags"), &f.admin, Some(&body))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "SNAPSHOT_INVALID");
    let message = r.message();
    assert!(
        message.contains("client snapshot envelope of default/development"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{DEFAULT_MAX_ENVELOPE_BYTES}-byte limit")),
        "{message}"
    );
    assert!(size_in(&message) > DEFAULT_MAX_ENVELOPE_BYTES, "{message}");
    nothing_stored(f, "wide", &before, audits).await;

    // The same flag without client visibility fits: only the client envelope was too big.
    let mut server_only = body.clone();
    server_only["client_visible"] = json!(false);
    call(
        f,
        "POST",
        &format!("{P}/flags"),
        &f.admin,
        Some(&server_only),
    )
    .await
    .expect(StatusCode::CREATED);
    let latest = f
        .state
        .latest_snapshot("default", "development")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.version, before["development"] + 1);
    assert!(latest.envelope.len() <= DEFAULT_MAX_ENVELOPE_BYTES);
}
both!(oversized_client_envelope_is_refused, super::BIG_BODY);

async fn creating_a_flag_needs_every_environments_role(f: &Fixture) {
    let editor = token(f, Role::Editor, "default").await;
    let publisher = token(f, Role::Publisher, "default").await;
    let before = stored_versions(f, "default").await;
    let audits = audit_count(f, "flag.create").await;

    // `default` has a protected production: a new flag lands there too (serving its off
    // variant, whose value the creator picks), so an editor may not create one at all ...
    let r = call(
        f,
        "POST",
        &format!("{P}/flags"),
        &editor,
        Some(&boolean_flag("e1")),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "FORBIDDEN");
    assert!(r.message().contains("publisher"), "{}", r.message());
    // ... least of all with targeting for production.
    let mut with_prod = boolean_flag("e2");
    with_prod["environments"] = json!({"production": targeting_on()});
    call(f, "POST", &format!("{P}/flags"), &editor, Some(&with_prod))
        .await
        .expect(StatusCode::FORBIDDEN);
    nothing_stored(f, "e1", &before, audits).await;
    nothing_stored(f, "e2", &before, audits).await;

    // A publisher may; production starts OFF where no targeting was given.
    let mut dev_on = boolean_flag("p1");
    dev_on["environments"] = json!({"development": targeting_on()});
    let created = call(f, "POST", &format!("{P}/flags"), &publisher, Some(&dev_on))
        .await
        .expect(StatusCode::CREATED)
        .json();
    let envs = &created["item"]["environments"];
    assert_eq!(envs["development"]["enabled"], true, "{created}");
    assert_eq!(envs["production"]["enabled"], false, "{created}");
    assert_eq!(envs["production"]["off_variant"], "off", "{created}");
    let prod = f
        .state
        .latest_snapshot("default", "production")
        .await
        .unwrap()
        .unwrap();
    let doc = document(&prod.envelope);
    let flag = doc["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["key"] == "p1")
        .unwrap();
    assert_eq!(flag["enabled"], false, "{flag}");
    assert_eq!(flag["off_variant"], "off", "{flag}");

    // In a project without protected environments an editor creates flags.
    call(
        f,
        "POST",
        "/v1/projects",
        &f.admin,
        Some(&json!({"key": "open", "environments": [{"key": "dev"}, {"key": "test"}]})),
    )
    .await
    .expect(StatusCode::CREATED);
    let open_editor = token(f, Role::Editor, "open").await;
    call(
        f,
        "POST",
        "/v1/projects/open/flags",
        &open_editor,
        Some(&boolean_flag("e3")),
    )
    .await
    .expect(StatusCode::CREATED);
}
both!(creating_a_flag_needs_every_environments_role, 1 << 20);

async fn protection_lookups_fail_closed(f: &Fixture) {
    let editor = token(f, Role::Editor, "default").await;
    call(
        f,
        "POST",
        &format!("{P}/flags"),
        &f.admin,
        Some(&boolean_flag("f1")),
    )
    .await
    .expect(StatusCode::CREATED);

    // A protection value other than 0/1 (a hand-edited backup, another tool): the environment
    // reads as protected, and so must every permission check.
    sql(
        f,
        "UPDATE environments SET protected = 2 WHERE project = 'default' AND key = 'production'",
    )
    .await;
    let env = call(f, "GET", PROD, &f.admin, None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(env.json()["protected"], true);
    let definition = json!({"type": "boolean", "variants": {"on": true, "off": false},
        "owner": "mallory"});
    call(
        f,
        "PUT",
        &format!("{P}/flags/f1"),
        &editor,
        Some(&definition),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    call(f, "DELETE", &format!("{P}/flags/f1"), &editor, None)
        .await
        .expect(StatusCode::FORBIDDEN);
    call(
        f,
        "PUT",
        &format!("{PROD}/flags/f1"),
        &editor,
        Some(&targeting_on()),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    call(
        f,
        "POST",
        &format!("{P}/flags"),
        &editor,
        Some(&boolean_flag("f2")),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert!(f.state.has_protected("default").await.unwrap());

    // A lookup that fails is no answer: an unknown project is an error, not "unprotected".
    assert!(matches!(
        f.state.has_protected("no-such-project").await,
        Err(StateError::NotFound(_))
    ));
    assert!(matches!(
        f.state.is_protected("default", "no-such-env").await,
        Err(StateError::NotFound(_))
    ));

    // A production row that cannot be read (injected: a negative revision fails decoding):
    // every check that needs it answers 500 and nothing changes; other environments work.
    sql(
        f,
        "UPDATE environments SET revision = -1 WHERE project = 'default' AND key = 'production'",
    )
    .await;
    assert!(f.state.is_protected("default", "production").await.is_err());
    let before = stored_versions(f, "default").await;
    let r = call(
        f,
        "PUT",
        &format!("{PROD}/flags/f1"),
        &editor,
        Some(&targeting_on()),
    )
    .await
    .expect(StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.code(), "INTERNAL");
    let r = call(
        f,
        "PUT",
        &format!("{PROD}/flags/f1"),
        &f.admin,
        Some(&targeting_on()),
    )
    .await
    .expect(StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.code(), "INTERNAL");
    let mut with_prod = boolean_flag("f3");
    with_prod["environments"] = json!({"production": targeting_on()});
    call(f, "POST", &format!("{P}/flags"), &editor, Some(&with_prod))
        .await
        .expect(StatusCode::FORBIDDEN);
    call(f, "POST", &format!("{P}/flags"), &f.admin, Some(&with_prod))
        .await
        .expect(StatusCode::INTERNAL_SERVER_ERROR);
    call(f, "GET", &format!("{P}/flags/f3"), &f.admin, None)
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(stored_versions(f, "default").await, before);
    let t = call(f, "GET", &format!("{DEV}/flags/f1"), &f.admin, None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(t.json()["enabled"], false);
    call(
        f,
        "PUT",
        &format!("{DEV}/flags/f1"),
        &editor,
        Some(&targeting_on()),
    )
    .await
    .expect(StatusCode::OK);
}
both!(protection_lookups_fail_closed, 1 << 20);
