//! The relying party: discovery (cached), the authorization request and the verified result
//! of a callback. HTTP to the issuer goes through `ureq` on the blocking pool, with redirects
//! off (as the `oauth2` crate advises against SSRF), a new connection per request and a 10 s
//! timeout.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest,
    HttpResponse, IdToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope, TokenResponse as _,
};
use serde::{Deserialize, Serialize};

use super::OidcSettings;
use crate::error::StateError;

/// How long discovery (the provider metadata and its JWKS) is reused before it is read again.
const METADATA_TTL: Duration = Duration::from_secs(300);

/// Timeout of one HTTP request to the issuer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response body read from the issuer, bytes.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// The path of the callback under the public URL.
pub const CALLBACK_PATH: &str = "/v1/session/oidc/callback";

/// Why a sign-in with the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The issuer could not be reached, or its discovery document or JWKS is unusable.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused, or its answer did not verify (code exchange, ID token signature,
    /// issuer, audience, expiry, nonce, a missing or unverified e-mail).
    #[error("the identity provider's answer was refused: {0}")]
    Refused(String),
}

/// A started sign-in: where to send the browser, and what the callback needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begun {
    /// The issuer's authorization URL (code flow, PKCE S256, state, nonce, scopes).
    pub url: String,
    /// The `state` parameter.
    pub state: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
}

/// Who signed in, from the verified ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `sub` claim.
    pub subject: String,
    /// The `email` claim, lowercase.
    pub email: String,
    /// The `name` claim, if any.
    pub name: Option<String>,
    /// The groups claim's strings (empty without the claim).
    pub groups: Vec<String>,
}

/// Every claim of the ID token besides the standard ones, to read the groups claim from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims(serde_json::Map<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type GroupsIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// An HTTP failure talking to the issuer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpError(String);

/// The relying party for one issuer and client.
#[derive(Debug)]
pub struct Oidc {
    settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: OnceLock<RedirectUrl>,
    metadata: tokio::sync::Mutex<Option<(Instant, CoreProviderMetadata)>>,
    agent: ureq::Agent,
}

impl Oidc {
    /// The relying party of `settings` (nothing is fetched yet: discovery happens at the first
    /// sign-in, so the server starts while the issuer is down).
    ///
    /// # Errors
    /// [`StateError::Config`] for an issuer or public URL that is not an absolute URL.
    pub fn new(settings: OidcSettings) -> Result<Oidc, StateError> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| StateError::Config(format!("--oidc-issuer {:?}: {e}", settings.issuer)))?;
        let oidc = Oidc {
            issuer,
            redirect: OnceLock::new(),
            metadata: tokio::sync::Mutex::new(None),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                // No pooled connections: a provider closes idle ones (Node after 5 s), and a
                // POST on a closed one fails instead of being retried.
                .max_idle_connections(0)
                .timeout_global(Some(HTTP_TIMEOUT))
                .build()
                .new_agent(),
            settings,
        };
        if let Some(public) = &oidc.settings.public_url {
            oidc.set_redirect(public)
                .map_err(|e| StateError::Config(format!("--public-url {public:?}: {e}")))?;
        }
        Ok(oidc)
    }

    /// The settings.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    fn set_redirect(&self, base: &str) -> Result<(), String> {
        let parsed = url::Url::parse(base).map_err(|e| e.to_string())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("not an http(s) URL".into());
        }
        let url = format!("{}{CALLBACK_PATH}", base.trim_end_matches('/'));
        let url = RedirectUrl::new(url).map_err(|e| e.to_string())?;
        // Set once: an explicit public URL is not replaced by the bound address.
        let _ = self.redirect.set(url);
        Ok(())
    }

    /// Uses `http://<addr>` as the public URL unless one was configured (`serve::run` calls
    /// this once bound; an unspecified address becomes `localhost`).
    pub fn bound(&self, addr: SocketAddr) {
        let host = if addr.ip().is_unspecified() {
            "localhost".to_owned()
        } else if addr.is_ipv6() {
            format!("[{}]", addr.ip())
        } else {
            addr.ip().to_string()
        };
        if let Err(e) = self.set_redirect(&format!("http://{host}:{}", addr.port())) {
            tracing::warn!(error = %e, "no redirect URI for single sign-on");
        }
    }

    /// The redirect URI registered with the provider: `<public URL>/v1/session/oidc/callback`.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect.get().map(|u| u.as_str())
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, m)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let http = |req| send(self.agent.clone(), req);
        let m = CoreProviderMetadata::discover_async(self.issuer.clone(), &http)
            .await
            .map_err(|e| {
                OidcError::Unavailable(format!(
                    "discovery of {}: {}",
                    self.issuer.as_str(),
                    chain(&e)
                ))
            })?;
        *cached = Some((Instant::now(), m.clone()));
        Ok(m)
    }

    async fn client(
        &self,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let redirect = self
            .redirect
            .get()
            .cloned()
            .ok_or_else(|| OidcError::Unavailable("no public URL for the redirect".into()))?;
        let metadata = self.metadata().await?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.0.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: fresh state, nonce and PKCE verifier, and the authorization URL.
    ///
    /// # Errors
    /// [`OidcError::Unavailable`] when discovery fails.
    pub async fn begin(&self) -> Result<Begun, OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Begun {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    /// Finishes a sign-in: exchanges `code` with the flow's PKCE `verifier`, verifies the ID
    /// token (signature with the issuer's JWKS, `iss`, `aud`, `exp`, `nonce`) and reads the
    /// person from it.
    ///
    /// # Errors
    /// [`OidcError::Unavailable`] when the issuer cannot be reached; [`OidcError::Refused`]
    /// when the exchange is refused, the ID token is missing or does not verify, or it has no
    /// e-mail (or one marked unverified).
    pub async fn finish(
        &self,
        code: &str,
        verifier: String,
        nonce: String,
    ) -> Result<Identity, OidcError> {
        let client = self.client().await?;
        let http = |req| send(self.agent.clone(), req);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(format!("the issuer has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::Refused(format!("code exchange: {}", chain(&e))))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Refused("the token response has no ID token".into()))?;
        let id_token: GroupsIdToken = id_token
            .to_string()
            .parse()
            .map_err(|e| OidcError::Refused(format!("ID token: {e}")))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce))
            .map_err(|e| OidcError::Refused(format!("ID token: {e}")))?;
        if claims.email_verified() == Some(false) {
            return Err(OidcError::Refused(
                "the ID token's e-mail is not verified (email_verified is false)".into(),
            ));
        }
        let email = claims
            .email()
            .map(|e| e.as_str().trim().to_lowercase())
            .filter(|e| e.contains('@'))
            .ok_or_else(|| {
                OidcError::Refused("the ID token has no e-mail (request the email scope)".into())
            })?;
        let groups = match claims
            .additional_claims()
            .0
            .get(&self.settings.groups_claim)
        {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(Identity {
            subject: claims.subject().as_str().to_owned(),
            email,
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            groups,
        })
    }
}

/// `e` and its sources, joined with `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One HTTP request to the issuer on the blocking pool.
async fn send(agent: ureq::Agent, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    tokio::task::spawn_blocking(move || {
        let response = agent.run(request).map_err(|e| HttpError(e.to_string()))?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| HttpError(e.to_string()))?;
        Ok(HttpResponse::from_parts(parts, bytes))
    })
    .await
    .map_err(|e| HttpError(format!("HTTP task: {e}")))?
}
