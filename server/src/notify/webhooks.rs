//! HTTP webhooks: each project may register URLs that receive its change events.
//!
//! A delivery is `POST <url>` with the [`ChangeEvent`] as JSON and the headers
//! `Burgee-Event-Id` (the de-duplication id), `Burgee-Timestamp` (ms since epoch) and
//! `Burgee-Signature: v1=<hex>`, where `<hex>` is HMAC-SHA256 (RFC 2104) keyed with the
//! webhook's secret over `<timestamp>.<body>` — a receiver recomputes it and refuses stale
//! timestamps, as with Stripe's or the Standard Webhooks scheme. Any 2xx answer is success;
//! anything else (or no answer within 10 s) is retried with backoff (1 s doubling to 60 s),
//! in order, forever: a webhook never skips an event. Every attempt is in the delivery log
//! (`GET /v1/projects/{project}/webhooks/{id}/deliveries`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hmac::{KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbox::{self, ChangeEvent};
use super::{SinkContext, retry_delay, wait};
use crate::error::StateError;
use crate::service::AppState;
use crate::store::{to_i64, to_u64};

/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A registered webhook (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    /// Id (`wh_` + 16 hex digits).
    pub id: String,
    /// Project whose events it receives.
    pub project: String,
    /// Where events are POSTed.
    pub url: String,
    /// Event kinds delivered: `flags`, `config` (both when created with none).
    pub kinds: Vec<String>,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Who created it.
    pub created_by: String,
}

/// Body of `POST /v1/projects/{project}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// An `http://` or `https://` URL.
    pub url: String,
    /// Kinds to deliver (`flags`, `config`); empty: both.
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// A webhook just created, with its signing secret (shown this once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    pub webhook: Webhook,
    /// The HMAC-SHA256 key of `Burgee-Signature` (`whsec_` + 64 hex digits).
    pub secret: String,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDelivery {
    /// The event id.
    pub event: String,
    /// 1 for the first attempt of this event.
    pub attempt: u64,
    /// When, ms since epoch.
    pub at: u64,
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Whether this attempt delivered the event.
    pub delivered: bool,
}

/// `Burgee-Signature` of `body` sent at `timestamp` (ms): `v1=` + lowercase hex of
/// HMAC-SHA256(`secret`, `"<timestamp>.<body>"`).
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn cursor_name(id: &str) -> String {
    format!("webhook:{id}")
}

type Row = (String, String, String, String, String, i64, String);

fn webhook_of(row: Row) -> Result<(Webhook, String), StateError> {
    let (id, project, url, secret, kinds, created_at, created_by) = row;
    Ok((
        Webhook {
            id,
            project,
            url,
            kinds: crate::store::rows::from_json(&kinds)?,
            created_at: to_u64(created_at)?,
            created_by,
        },
        secret,
    ))
}

impl AppState {
    /// The webhooks of a project (all projects with `None`) with their sealed secrets.
    async fn webhook_rows(
        &self,
        project: Option<&str>,
    ) -> Result<Vec<(Webhook, String)>, StateError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, project, url, secret, kinds, created_at, created_by FROM webhooks \
             WHERE enabled = 1 AND ($1 = '' OR project = $1) ORDER BY created_at, id",
        )
        .bind(project.unwrap_or_default())
        .fetch_all(&self.inner.store.pool)
        .await?;
        rows.into_iter().map(webhook_of).collect()
    }

    /// The webhooks of a project.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn webhooks(&self, project: &str) -> Result<Vec<Webhook>, StateError> {
        Ok(self
            .webhook_rows(Some(project))
            .await?
            .into_iter()
            .map(|(w, _)| w)
            .collect())
    }

    /// Registers a webhook; it receives the events published from now on.
    ///
    /// # Errors
    /// 400 (`StateError::Field`) for a URL that is not http(s) or an unknown kind,
    /// [`StateError::NotFound`] for an unknown project.
    pub async fn create_webhook(
        &self,
        actor: &str,
        project: &str,
        input: &WebhookInput,
    ) -> Result<CreatedWebhook, StateError> {
        let field = |f: &str, m: String| StateError::Field {
            field: f.into(),
            message: m,
        };
        let url =
            url::Url::parse(&input.url).map_err(|e| field("url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(field("url", "must be http:// or https://".into()));
        }
        let mut kinds = input.kinds.clone();
        if kinds.is_empty() {
            kinds = vec!["flags".into(), "config".into()];
        }
        if let Some(bad) = kinds
            .iter()
            .find(|k| !matches!(k.as_str(), "flags" | "config"))
        {
            return Err(field(
                "kinds",
                format!("unknown kind {bad:?} (flags, config)"),
            ));
        }
        let secret = format!("whsec_{}", hex::encode(crate::keys::random_bytes::<32>()?));
        let id = format!("wh_{}", hex::encode(crate::keys::random_bytes::<8>()?));
        let sealed = self.inner.secrets.seal(&secret)?;
        let head = outbox::head(&self.inner.store.pool).await?;
        let webhook = self
            .write(actor, async |tx| {
                crate::store::rows::require_project(tx.conn(), project).await?;
                let now = tx.now;
                let webhook = Webhook {
                    id: id.clone(),
                    project: project.to_owned(),
                    url: input.url.clone(),
                    kinds: kinds.clone(),
                    created_at: now,
                    created_by: actor.to_owned(),
                };
                sqlx::query(
                    "INSERT INTO webhooks (id, project, url, secret, kinds, enabled, created_at, \
                     created_by) VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
                )
                .bind(&id)
                .bind(project)
                .bind(&input.url)
                .bind(&sealed)
                .bind(crate::store::rows::to_json(&kinds)?)
                .bind(to_i64(now)?)
                .bind(actor)
                .execute(&mut *tx.conn())
                .await?;
                sqlx::query("INSERT INTO outbox_cursors (sink, seq) VALUES ($1, $2)")
                    .bind(cursor_name(&id))
                    .bind(to_i64(head)?)
                    .execute(&mut *tx.conn())
                    .await?;
                tx.audit(
                    "webhook.create",
                    (Some(project), None),
                    &format!("webhook:{id}"),
                    None,
                    Some(crate::store::rows::to_json(&webhook)?),
                )
                .await?;
                Ok(webhook)
            })
            .await?;
        Ok(CreatedWebhook { webhook, secret })
    }

    /// Removes a webhook (its delivery log stays).
    ///
    /// # Errors
    /// [`StateError::NotFound`].
    pub async fn delete_webhook(
        &self,
        actor: &str,
        project: &str,
        id: &str,
    ) -> Result<(), StateError> {
        self.write(actor, async |tx| {
            let n = sqlx::query(
                "UPDATE webhooks SET enabled = 0 WHERE id = $1 AND project = $2 AND enabled = 1",
            )
            .bind(id)
            .bind(project)
            .execute(&mut *tx.conn())
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StateError::NotFound(format!(
                    "project \"{project}\" has no webhook \"{id}\""
                )));
            }
            tx.audit(
                "webhook.delete",
                (Some(project), None),
                &format!("webhook:{id}"),
                None,
                None,
            )
            .await
        })
        .await
    }

    /// The newest `limit` delivery attempts of a webhook, newest first.
    ///
    /// # Errors
    /// [`StateError::NotFound`] for a webhook not of `project`.
    pub async fn webhook_deliveries(
        &self,
        project: &str,
        id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StateError> {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT project FROM webhooks WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.inner.store.pool)
                .await?;
        if owner.as_deref() != Some(project) {
            return Err(StateError::NotFound(format!(
                "project \"{project}\" has no webhook \"{id}\""
            )));
        }
        type Attempt = (String, i64, i64, Option<i64>, Option<String>, i64);
        let rows: Vec<Attempt> = sqlx::query_as(
            "SELECT event, attempt, at, status, error, delivered FROM webhook_deliveries \
             WHERE webhook = $1 ORDER BY at DESC, attempt DESC LIMIT $2",
        )
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.inner.store.pool)
        .await?;
        rows.into_iter()
            .map(|(event, attempt, at, status, error, delivered)| {
                Ok(WebhookDelivery {
                    event,
                    attempt: to_u64(attempt)?,
                    at: to_u64(at)?,
                    status: status.and_then(|s| u16::try_from(s).ok()),
                    error,
                    delivered: delivered != 0,
                })
            })
            .collect()
    }
}

/// POSTs one event; `(status, error)`.
async fn post(
    agent: ureq::Agent,
    url: String,
    secret: String,
    event: &ChangeEvent,
    now: u64,
) -> (Option<u16>, Option<String>) {
    let Ok(body) = serde_json::to_vec(event) else {
        return (None, Some("serializing the event failed".into()));
    };
    let sig = signature(&secret, now, &body);
    let id = event.id.clone();
    let sent = tokio::task::spawn_blocking(move || {
        agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Burgee-Event-Id", &id)
            .header("Burgee-Timestamp", now.to_string())
            .header("Burgee-Signature", &sig)
            .send(&body[..])
            .map(|r| r.status().as_u16())
    })
    .await;
    match sent {
        Ok(Ok(status)) if (200..300).contains(&status) => (Some(status), None),
        Ok(Ok(status)) => (Some(status), Some(format!("answered {status}"))),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(e) => (None, Some(format!("delivery task: {e}"))),
    }
}

/// Delivers every webhook's events until the server stops.
pub(crate) async fn run(cx: SinkContext) {
    let (mut wake, mut stop) = (cx.wake(), cx.stop.clone());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(TIMEOUT))
        .build()
        .new_agent();
    // Per webhook: failures in a row and when to try again.
    let mut backoff: HashMap<String, (u32, Instant)> = HashMap::new();
    // Per (webhook, event): attempts so far.
    let mut attempts: HashMap<(String, String), u64> = HashMap::new();
    loop {
        if let Err(e) = deliver_due(&cx, &agent, &mut backoff, &mut attempts).await {
            tracing::warn!(error = %e, "webhook delivery pass failed; retrying");
        }
        if wait(&mut wake, &mut stop, Duration::from_secs(1)).await {
            return;
        }
    }
}

async fn deliver_due(
    cx: &SinkContext,
    agent: &ureq::Agent,
    backoff: &mut HashMap<String, (u32, Instant)>,
    attempts: &mut HashMap<(String, String), u64>,
) -> Result<(), StateError> {
    let state = &cx.state;
    let pool = &state.store().pool;
    for (hook, sealed) in state.webhook_rows(None).await? {
        if backoff
            .get(&hook.id)
            .is_some_and(|(_, at)| Instant::now() < *at)
        {
            continue;
        }
        let secret = state.inner.secrets.open_sealed(&sealed)?;
        let name = cursor_name(&hook.id);
        let cursor = outbox::cursor(pool, &name).await?;
        for (seq, event) in outbox::after(pool, cursor, super::BATCH).await? {
            if event.project == hook.project && hook.kinds.contains(&event.kind) {
                let key = (hook.id.clone(), event.id.clone());
                let attempt = attempts.get(&key).copied().unwrap_or(0) + 1;
                let now = state.now();
                let (status, error) =
                    post(agent.clone(), hook.url.clone(), secret.clone(), &event, now).await;
                sqlx::query(
                    "INSERT INTO webhook_deliveries (webhook, event, attempt, at, status, error, \
                     delivered) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&hook.id)
                .bind(&event.id)
                .bind(to_i64(attempt)?)
                .bind(to_i64(now)?)
                .bind(status.map(i64::from))
                .bind(&error)
                .bind(i64::from(error.is_none()))
                .execute(pool)
                .await?;
                if let Some(e) = error {
                    state.metrics().notification_failures.inc();
                    attempts.insert(key, attempt);
                    let failures = backoff.get(&hook.id).map_or(0, |(f, _)| *f);
                    backoff.insert(
                        hook.id.clone(),
                        (failures + 1, Instant::now() + retry_delay(failures)),
                    );
                    tracing::warn!(webhook = %hook.id, event = %event.id, attempt, error = %e, "webhook delivery failed; retrying");
                    break;
                }
                attempts.remove(&key);
                backoff.remove(&hook.id);
                state.metrics().notifications_delivered.inc();
            }
            outbox::advance(pool, &name, seq).await?;
        }
    }
    Ok(())
}
