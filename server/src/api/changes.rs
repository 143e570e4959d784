//! The admin event stream: server-sent events of every audited change of a project, so open
//! console pages update within a second of anyone's write and can say who changed what.
//!
//! The stream reads the audit log (the one record of every write, from every server process
//! sharing the database): it checks for entries after the last one sent when this process
//! publishes and at least every [`POLL`], so changes made through another replica arrive too.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Serialize;

use crate::api::distribution::{ClientGuard, Credential, REVALIDATE, open_slot};
use crate::api::extract::Caller;
use crate::error::ApiError;
use crate::model::{AuditEntry, Role};
use crate::service::{AppState, AuditFilter};

/// How often an open stream looks for new audit entries when nothing woke it.
pub(crate) const POLL: Duration = Duration::from_millis(500);

/// One change: an audit entry without its before/after documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProjectChange {
    /// Audit sequence number (also the event's `id`, for `Last-Event-ID`).
    pub seq: u64,
    /// When, ms since epoch.
    pub at: u64,
    /// Who: the user's or API token's id, as in the audit log.
    pub actor: String,
    /// Who, readably: the user's name (or e-mail), the token's name, else the id.
    pub actor_name: String,
    /// What, e.g. `targeting.update`, `flag.create`, `environment.rollback`.
    pub action: String,
    /// Environment, for per-environment changes.
    pub environment: Option<String>,
    /// The resource, e.g. `flag:checkout`.
    pub resource: String,
}

impl ProjectChange {
    async fn of(state: &AppState, e: AuditEntry) -> ProjectChange {
        let actor_name = state
            .actor_name(&e.actor)
            .await
            .unwrap_or_else(|_| e.actor.clone());
        ProjectChange {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            actor_name,
            action: e.action,
            environment: e.environment,
            resource: e.resource,
        }
    }
}

struct ChangeStream {
    state: AppState,
    project: String,
    sent: u64,
    pending: std::collections::VecDeque<ProjectChange>,
    poll: tokio::time::Interval,
    keep_alive: tokio::time::Interval,
    revalidate: tokio::time::Interval,
    credential: Option<Credential>,
    rx: tokio::sync::broadcast::Receiver<crate::distribution::SnapshotEvent>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    _slot: Option<crate::distribution::StreamSlot>,
    _guard: ClientGuard,
}

/// Server-sent events of a project's changes, as they are audited.
///
/// Each event is `id: <seq>`, `event: change`, `data: <ProjectChange JSON>`. Without
/// `Last-Event-ID` the stream starts with the next change; with it, with the first change
/// after that sequence number (at most 100 are replayed). `: keep-alive` comments keep idle
/// connections open; the stream ends within seconds of the session or token ending.
#[utoipa::path(get, path = "/v1/projects/{project}/changes", tag = "projects",
    responses((status = 200, description = "An SSE stream of `change` events (each a `ProjectChange`)",
        content_type = "text/event-stream", body = String)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn stream_changes(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    state.project(&project).await?;
    let credential = Credential::of(&headers, None);
    let slot = open_slot(&state, credential.as_ref())?;
    let rx = state.subscribe();
    let sent = match headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(seq) => seq,
        None => state.latest_audit_seq().await?,
    };
    state.metrics().sse_clients.add(1);
    let every = |period: Duration| {
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    };
    let st = ChangeStream {
        poll: every(POLL),
        keep_alive: every(state.sse_keep_alive()),
        revalidate: every(REVALIDATE),
        credential,
        rx,
        shutdown: state.shutdown_signal(),
        _slot: slot,
        _guard: ClientGuard(state.clone()),
        state,
        project,
        sent,
        pending: std::collections::VecDeque::new(),
    };
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(changes(st)),
    )
        .into_response())
}

fn sse_event(change: &ProjectChange) -> Bytes {
    let data = serde_json::to_string(change).unwrap_or_default();
    Bytes::from(format!(
        "id: {}\nevent: change\ndata: {data}\n\n",
        change.seq
    ))
}

/// Loads the project's audit entries after `st.sent` into `st.pending` (a failed lookup is
/// retried at the next poll: the database may be briefly away).
async fn fetch(st: &mut ChangeStream) {
    let filter = AuditFilter {
        project: Some(st.project.clone()),
        after_seq: Some(st.sent),
        limit: Some(100),
        ..AuditFilter::default()
    };
    if let Ok(entries) = st.state.audit_entries(&filter).await {
        for e in entries {
            let change = ProjectChange::of(&st.state, e).await;
            st.pending.push_back(change);
        }
    }
}

fn changes(st: ChangeStream) -> impl Stream<Item = Result<Bytes, Infallible>> {
    stream::unfold(st, |mut st| async move {
        loop {
            if let Some(change) = st.pending.pop_front() {
                st.sent = st.sent.max(change.seq);
                st.keep_alive.reset();
                return Some((Ok(sse_event(&change)), st));
            }
            if *st.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                received = st.rx.recv() => match received {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => fetch(&mut st).await,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
                _ = st.poll.tick() => fetch(&mut st).await,
                _ = st.shutdown.changed() => return None,
                _ = st.keep_alive.tick() => {
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), st));
                }
                _ = st.revalidate.tick() => {
                    let admitted = Credential::admits(st.credential.as_ref(), &st.state).await;
                    let gone = matches!(
                        st.state.project(&st.project).await,
                        Err(crate::error::StateError::NotFound(_))
                    );
                    if !admitted || gone {
                        return None;
                    }
                }
            }
        }
    })
}
