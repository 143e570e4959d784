//! The client checks everything that is signed (`spec/SNAPSHOT.md` §5.3): the project it is
//! configured for, and the audience its key implies (`bgc_` → client snapshots). Offline: the
//! envelopes are signed here and handed over as bootstrap copies, with times relative to the
//! clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use burgee_client::{Bootstrap, Client, ClientOptions, SyncStatus, now_ms};
use burgee_core::{Audience, ErrorCode, SNAPSHOT_PAYLOAD_TYPE, sign_envelope};
use ed25519_dalek::SigningKey;
use serde_json::json;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[5; 32])
}

fn public_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(key().verifying_key().as_bytes())
}

/// A snapshot of `project` / production for `audience`, valid for a day from now.
fn envelope(project: &str, audience: Audience) -> String {
    let now = now_ms();
    let mut doc = json!({
        "format": 1, "project": project, "environment": "production", "version": 4,
        "issued_at": now - 3_600_000, "expires_at": now + 86_400_000, "salt": "s",
        "flags": [{"key": "banner", "type": "boolean", "variants": {"on": true, "off": false},
                   "enabled": true, "off_variant": "off", "default": {"variant": "on"},
                   "client_visible": true}]
    });
    if audience == Audience::Client {
        doc["audience"] = json!("client");
    }
    let payload = serde_json::to_vec(&doc).unwrap();
    serde_json::to_string(&sign_envelope(SNAPSHOT_PAYLOAD_TYPE, &payload, &key())).unwrap()
}

/// An offline client started from `bootstrap`: the version held (0 = none) and the last
/// error's code.
fn start(
    project: Option<&str>,
    sdk_key: Option<&str>,
    bootstrap: String,
) -> (u64, Option<ErrorCode>) {
    let mut o = ClientOptions::new("production", vec![public_key()]);
    o.project = project.map(str::to_owned);
    o.sdk_key = sdk_key.map(str::to_owned);
    o.bootstrap = Some(Bootstrap::Envelope(bootstrap));
    let c = Client::new(o).unwrap();
    let (status, last) = c.status();
    let version = c.snapshot().map_or(0, |s| s.info().version);
    assert_eq!(
        status,
        if version == 0 {
            SyncStatus::NotReady
        } else {
            SyncStatus::Ready
        }
    );
    (version, last.map(|(code, _)| code))
}

#[test]
fn the_configured_project_is_checked() {
    let webshop = envelope("webshop", Audience::Server);
    assert_eq!(start(Some("webshop"), None, webshop.clone()), (4, None));
    assert_eq!(
        start(Some("blog"), None, webshop.clone()),
        (0, Some(ErrorCode::ProjectMismatch))
    );
    // Without a project nothing is checked (tools; SDKs that know theirs set it).
    assert_eq!(start(None, None, webshop), (4, None));
}

#[test]
fn the_audience_follows_the_key() {
    let server = envelope("webshop", Audience::Server);
    let client = envelope("webshop", Audience::Client);
    for (key, audience) in [
        (None, Audience::Server),
        (Some("bgs_0123"), Audience::Server),
        (Some("bgc_0123"), Audience::Client),
    ] {
        let mut o = ClientOptions::new("production", vec![public_key()]);
        o.sdk_key = key.map(str::to_owned);
        assert_eq!(o.audience(), audience, "{key:?}");
    }
    // A server SDK refuses a client snapshot, a client-side key a server snapshot.
    assert_eq!(
        start(Some("webshop"), Some("bgs_0123"), client.clone()),
        (0, Some(ErrorCode::AudienceMismatch))
    );
    assert_eq!(
        start(Some("webshop"), None, client.clone()),
        (0, Some(ErrorCode::AudienceMismatch))
    );
    assert_eq!(
        start(Some("webshop"), Some("bgc_0123"), server.clone()),
        (0, Some(ErrorCode::AudienceMismatch))
    );
    assert_eq!(start(Some("webshop"), Some("bgc_0123"), client), (4, None));
    assert_eq!(start(Some("webshop"), Some("bgs_0123"), server), (4, None));
}
