//! Single sign-on for the console with OpenID Connect: the settings ([`OidcSettings`], from
//! `burgee serve --oidc-*`), the role-mapping rules ([`RoleRule`], [`grant`]) and the relying
//! party ([`Oidc`]: discovery, the authorization request, the code exchange and the ID token's
//! verification, with the `openidconnect` crate).
//!
//! ```text
//!  GET /v1/session/oidc/start ─► flow saved (state, PKCE verifier, nonce; 10 min, one use)
//!        ─► 302 to the issuer's authorization endpoint (code flow, S256, state, nonce)
//!  issuer: the person signs in ─► 302 to <public URL>/v1/session/oidc/callback?code&state
//!  GET …/callback ─► flow taken (state + the browser's flow cookie) ─► code exchanged with the
//!        verifier ─► ID token verified (JWKS signature, iss, aud, exp, nonce) ─► e-mail and
//!        groups ─► grant(rules) ─► user created or updated ─► session cookie ─► 303 /ui/
//! ```
//!
//! The person's e-mail comes only from the verified ID token (a token whose `email_verified`
//! is `false` is refused), and so do the groups (the claim named by
//! [`OidcSettings::groups_claim`], which must therefore be put in the ID token by the issuer).

use std::fmt;
use std::str::FromStr;

use crate::model::Role;

mod provider;

pub use provider::{Begun, Identity, Oidc, OidcError};

/// Default of [`OidcSettings::scopes`]: `openid email profile`.
pub const DEFAULT_SCOPES: &str = "openid email profile";

/// Default of [`OidcSettings::groups_claim`]: `groups`.
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// How long a started sign-in may take before its callback is refused, ms (10 minutes).
pub const FLOW_TTL_MS: u64 = 10 * 60_000;

/// A secret in the settings: compared like a string, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How the console signs in with an OpenID provider (`burgee serve --oidc-issuer …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer URL, exactly as the provider's discovery document and ID tokens name it
    /// (discovery reads `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client id registered with the provider (the ID token's audience).
    pub client_id: String,
    /// The client secret (`client_secret_basic`); `None` for a public client (PKCE only).
    pub client_secret: Option<Secret>,
    /// The server's public base URL, e.g. `https://flags.example.com`; the redirect URI is
    /// `<public_url>/v1/session/oidc/callback`. `None`: `http://` + the bound address
    /// (`localhost` for an unspecified one).
    pub public_url: Option<String>,
    /// Scopes requested (always including `openid`), in order.
    pub scopes: Vec<String>,
    /// The ID token claim holding the person's groups: an array of strings (or one string).
    pub groups_claim: String,
    /// The role-mapping rules, in the order given.
    pub rules: Vec<RoleRule>,
    /// The name on the console's button ("Sign in with NAME").
    pub display_name: String,
}

impl OidcSettings {
    /// Settings for `issuer` and `client_id` with the defaults: no secret, public URL from the
    /// listen address, [`DEFAULT_SCOPES`], [`DEFAULT_GROUPS_CLAIM`], no rules (nobody may sign
    /// in), and the issuer's host as the display name.
    #[must_use]
    pub fn new(issuer: &str, client_id: &str) -> OidcSettings {
        let display_name = url::Url::parse(issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| issuer.to_owned());
        OidcSettings {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: None,
            public_url: None,
            scopes: DEFAULT_SCOPES.split(' ').map(str::to_owned).collect(),
            groups_claim: DEFAULT_GROUPS_CLAIM.to_owned(),
            rules: Vec::new(),
            display_name,
        }
    }
}

/// What a [`RoleRule`] matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A group in the groups claim (exact, case-sensitive).
    Group(String),
    /// The domain of the e-mail address (exact, case-insensitive; no subdomains).
    Domain(String),
}

/// One `--oidc-role` rule: `group:NAME=ROLE[@PROJECT]` or `domain:DOMAIN=ROLE[@PROJECT]`,
/// e.g. `group:platform=admin`, `domain:example.com=viewer`, `group:web=editor@webshop`.
/// ROLE is `viewer`, `editor`, `publisher` or `admin`; without `@PROJECT` the role holds in
/// every project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    /// What it matches.
    pub subject: Subject,
    /// The role it grants.
    pub role: Role,
    /// The project it is limited to; `None` = every project.
    pub project: Option<String>,
}

impl FromStr for RoleRule {
    type Err = String;

    /// Parses `group:NAME=ROLE[@PROJECT]` or `domain:DOMAIN=ROLE[@PROJECT]`; the error says
    /// what is wrong.
    fn from_str(text: &str) -> Result<RoleRule, String> {
        let form = "expected group:NAME=ROLE[@PROJECT] or domain:DOMAIN=ROLE[@PROJECT]";
        let (kind, rest) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?}: {form}"))?;
        let (name, grant) = rest
            .rsplit_once('=')
            .ok_or_else(|| format!("{text:?}: {form}"))?;
        if name.is_empty() {
            return Err(format!("{text:?}: the {kind} is empty"));
        }
        let (role, project) = match grant.split_once('@') {
            Some((role, project)) if !project.is_empty() => (role, Some(project.to_owned())),
            Some(_) => return Err(format!("{text:?}: the project after @ is empty")),
            None => (grant, None),
        };
        let role = Role::parse(role).ok_or_else(|| {
            format!("{text:?}: {role:?} is not a role (viewer, editor, publisher or admin)")
        })?;
        let subject = match kind {
            "group" => Subject::Group(name.to_owned()),
            "domain" => Subject::Domain(name.to_ascii_lowercase()),
            _ => {
                return Err(format!(
                    "{text:?}: {kind:?} is neither group nor domain; {form}"
                ));
            }
        };
        Ok(RoleRule {
            subject,
            role,
            project,
        })
    }
}

/// What the rules grant a person: a role, in one project or in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// The project; `None` = every project.
    pub project: Option<String>,
}

/// The grant of the highest role among the rules matching `email`'s domain or one of
/// `groups`; `None` when no rule matches. Between rules of the same role, one for every
/// project wins over one for a single project, then the earlier rule.
#[must_use]
pub fn grant(rules: &[RoleRule], email: &str, groups: &[String]) -> Option<Grant> {
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    let mut best: Option<&RoleRule> = None;
    for rule in rules {
        let matches = match &rule.subject {
            Subject::Group(g) => groups.iter().any(|x| x == g),
            Subject::Domain(d) => *d == domain,
        };
        let better = best.is_none_or(|b| {
            rule.role > b.role
                || (rule.role == b.role && b.project.is_some() && rule.project.is_none())
        });
        if matches && better {
            best = Some(rule);
        }
    }
    best.map(|r| Grant {
        role: r.role,
        project: r.project.clone(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rules(texts: &[&str]) -> Vec<RoleRule> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn rules_parse_and_say_what_is_wrong() {
        assert_eq!(
            "group:web=editor@webshop".parse::<RoleRule>().unwrap(),
            RoleRule {
                subject: Subject::Group("web".into()),
                role: Role::Editor,
                project: Some("webshop".into()),
            }
        );
        assert_eq!(
            "domain:Example.COM=viewer".parse::<RoleRule>().unwrap(),
            RoleRule {
                subject: Subject::Domain("example.com".into()),
                role: Role::Viewer,
                project: None,
            }
        );
        let a = "group:a=b=admin".parse::<RoleRule>().unwrap();
        assert_eq!(a.subject, Subject::Group("a=b".into()));
        for (bad, says) in [
            ("platform=admin", "expected group:"),
            ("group:platform", "expected group:"),
            ("group:=admin", "is empty"),
            ("group:x=owner", "is not a role"),
            ("team:x=admin", "neither group nor domain"),
            ("group:x=admin@", "project after @ is empty"),
        ] {
            let e = bad.parse::<RoleRule>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_highest_matching_role_wins() {
        let r = rules(&[
            "domain:example.com=viewer",
            "group:web=editor@webshop",
            "group:platform=admin",
            "group:release=publisher",
        ]);
        let g = |email, names: &[&str]| grant(&r, email, &groups(names));
        assert_eq!(
            g("a@example.com", &["platform", "web"]),
            Some(Grant {
                role: Role::Admin,
                project: None
            })
        );
        assert_eq!(
            g("e@example.com", &["web"]),
            Some(Grant {
                role: Role::Editor,
                project: Some("webshop".into())
            })
        );
        assert_eq!(
            g("v@EXAMPLE.com", &[]),
            Some(Grant {
                role: Role::Viewer,
                project: None
            })
        );
        assert_eq!(g("v@sub.example.com", &[]), None, "no subdomains");
        assert_eq!(
            g("x@elsewhere.test", &["Platform"]),
            None,
            "groups are case-sensitive"
        );
    }

    #[test]
    fn a_global_rule_wins_a_tie() {
        let r = rules(&["group:a=editor@webshop", "group:b=editor"]);
        assert_eq!(
            grant(&r, "x@y.z", &groups(&["a", "b"])),
            Some(Grant {
                role: Role::Editor,
                project: None
            })
        );
        let r = rules(&["group:a=editor@one", "group:b=editor@two"]);
        assert_eq!(
            grant(&r, "x@y.z", &groups(&["a", "b"]))
                .unwrap()
                .project
                .as_deref(),
            Some("one")
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let mut s = OidcSettings::new("https://login.example.com/realm", "burgee");
        s.client_secret = Some(Secret("hunter2".into()));
        assert_eq!(s.display_name, "login.example.com");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
