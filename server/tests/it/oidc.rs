//! Console single sign-on (issue "Admin console", item 2) against a real OpenID provider: the
//! `oidc-provider` package on loopback (`testing/oidc-provider/`, installed by
//! `scripts/setup oidc-provider`), a real `burgee serve --oidc-*`, and an HTTP client that keeps
//! cookies like a browser and fills in the provider's login form. Mapped groups and e-mail
//! domains give their roles (a publisher writes in a protected environment, a viewer cannot),
//! a person no rule matches gets no user, and a tampered or replayed state, a tampered nonce
//! and an unverified e-mail are refused; the audit log names the user.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use burgee_test_support::{Serve, ServerProcess};
use serde_json::{Value, json};

const CLIENT_SECRET: &str = "burgee-test-secret";
const PRODUCTION: &str = "/v1/projects/default/environments/production/flags/f";

/// The provider process, killed when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testing/oidc-provider")
}

/// Whether the provider is installed; with `CI=true` it must be.
fn provider_installed() -> bool {
    let installed = provider_dir().join("node_modules/oidc-provider").is_dir();
    assert!(
        installed || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but testing/oidc-provider is not installed (scripts/setup oidc-provider)"
    );
    if !installed {
        eprintln!("skipped: testing/oidc-provider is not installed (scripts/setup oidc-provider)");
    }
    installed
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_provider(port: u16, redirect_uri: &str) -> Provider {
    let mut child = Command::new("node")
        .arg(provider_dir().join("provider.mjs"))
        .args(["--port", &port.to_string(), "--redirect-uri", redirect_uri])
        .args(["--client-secret", CLIENT_SECRET])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("node is needed (scripts/setup npm): {e}"));
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // Read on: a provider writing to a closed pipe would fail (EPIPE) and stop.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let issuer = line
        .trim()
        .strip_prefix("issuer ")
        .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
        .to_owned();
    Provider { child, issuer }
}

/// `burgee serve` with single sign-on against a provider on loopback, and that provider.
fn start(extra: &[&str]) -> (tempfile::TempDir, ServerProcess, Provider) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "--oidc-issuer",
        &issuer,
        "--oidc-client-id",
        "burgee",
        "--oidc-groups-scope",
        "groups",
        "--oidc-display-name",
        "Test IdP",
        "--oidc-role",
        "group:platform=admin",
        "--oidc-role",
        "group:release=publisher",
        "--oidc-role",
        "group:web=editor@default",
        "--oidc-role",
        "domain:example.org=viewer",
    ];
    args.extend_from_slice(extra);
    let server = Serve::new(env!("CARGO_BIN_EXE_burgee"), dir.path())
        .args(args)
        .env("BURGEE_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .start();
    let provider = start_provider(port, &format!("{}/v1/session/oidc/callback", server.url()));
    assert_eq!(provider.issuer, issuer);
    (dir, server, provider)
}

/// An answer: status, `Location`, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

/// An HTTP client that keeps cookies per host and port (ignoring paths, which is enough for
/// these two servers) and never follows redirects.
struct Browser {
    agent: ureq::Agent,
    jar: HashMap<String, BTreeMap<String, String>>,
}

fn origin(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest.split('/').next().unwrap().to_owned()
}

impl Browser {
    fn new() -> Browser {
        Browser {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .new_agent(),
            jar: HashMap::new(),
        }
    }

    fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar.get(&origin(url))?.get(name).cloned()
    }

    fn set_cookie(&mut self, url: &str, name: &str, value: &str) {
        self.jar
            .entry(origin(url))
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let cookies = self
            .jar
            .get(&origin(url))
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if !cookies.is_empty() {
            req = req.header("Cookie", cookies);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.unwrap_or_default().into_bytes()).unwrap();
        let mut resp = self.agent.run(req).unwrap();
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let jar = self.jar.entry(origin(url)).or_default();
            if value.is_empty() || attrs.to_ascii_lowercase().contains("max-age=0") {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        Answer {
            status: resp.status().as_u16(),
            location: location.map(|l| resolve(url, &l)),
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    fn get(&mut self, url: &str) -> Answer {
        self.send("GET", url, &[], None)
    }

    /// A request to burgee with the session cookie and its CSRF token.
    fn api(&mut self, method: &str, url: &str, csrf: &str, body: Option<Value>) -> Answer {
        let headers = [
            ("X-CSRF-Token", csrf),
            ("If-Match", "*"),
            ("Content-Type", "application/json"),
        ];
        self.send(method, url, &headers, body.map(|b| b.to_string()))
    }
}

/// `location` (absolute or a path) against `base`'s origin.
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let scheme = base.split_once("://").unwrap().0;
    format!("{scheme}://{}{location}", origin(base))
}

/// Signs in as `login` at the provider from burgee's start route; `tamper_auth` may change the
/// authorization URL and `tamper_callback` the callback URL. The callback's answer.
fn sign_in_with(
    b: &mut Browser,
    server: &str,
    login: &str,
    tamper_auth: impl Fn(String) -> String,
    tamper_callback: impl Fn(String) -> String,
) -> Answer {
    let start = b.get(&format!("{server}/v1/session/oidc/start"));
    assert_eq!(start.status, 302, "{start:?}");
    let auth = start.location.unwrap();
    for param in [
        "code_challenge_method=S256",
        "nonce=",
        "state=",
        "scope=openid",
    ] {
        assert!(auth.contains(param), "{param} missing: {auth}");
    }
    let mut url = tamper_auth(auth);
    for _ in 0..10 {
        if url.starts_with(&format!("{server}/v1/session/oidc/callback")) {
            return b.get(&tamper_callback(url));
        }
        let mut a = b.get(&url);
        if a.status == 200 && url.contains("/interaction/") {
            let form = format!("prompt=login&login={login}&password=anything");
            let headers = [("Content-Type", "application/x-www-form-urlencoded")];
            a = b.send("POST", &url, &headers, Some(form));
        }
        assert!((300..400).contains(&a.status), "{url}: {a:?}");
        url = a.location.unwrap();
    }
    panic!("no callback after 10 redirects");
}

fn sign_in(b: &mut Browser, server: &str, login: &str) -> Answer {
    sign_in_with(b, server, login, |u| u, |u| u)
}

/// `GET /v1/session` of the browser's session cookie.
fn session(b: &mut Browser, server: &str) -> Value {
    let a = b.get(&format!("{server}/v1/session"));
    assert_eq!(a.status, 200, "{a:?}");
    serde_json::from_str(&a.body).unwrap()
}

fn admin(server: &ServerProcess, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut b = Browser::new();
    let token = format!("Bearer {}", server.admin_token());
    let headers = [
        ("Authorization", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let a = b.send(
        method,
        &format!("{}{path}", server.url()),
        &headers,
        body.map(|b| b.to_string()),
    );
    (
        a.status,
        serde_json::from_str(&a.body).unwrap_or(Value::Null),
    )
}

fn users(server: &ServerProcess) -> Vec<String> {
    let (_, list) = admin(server, "GET", "/v1/users", None);
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

fn enable() -> Value {
    json!({"enabled": true, "off_variant": "off", "default": {"variant": "on"}})
}

#[test]
fn mapped_groups_and_domains_sign_in_with_their_roles() {
    if provider_installed() {
        roles(&[]);
    }
}

#[test]
fn mapped_groups_and_domains_sign_in_with_their_roles_on_postgres() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if provider_installed()
        && let Some(url) = runtime.block_on(burgee_test_support::postgres_url())
    {
        roles(&["--database-url", &url]);
    }
}

/// Sign-ins of every mapped kind on a server started with `extra` arguments.
fn roles(extra: &[&str]) {
    let (_dir, server, _provider) = start(extra);
    let base = server.url().to_owned();
    let (status, _) = admin(
        &server,
        "POST",
        "/v1/projects/default/flags",
        Some(json!({"key": "f", "type": "boolean", "variants": {"on": true, "off": false}})),
    );
    assert_eq!(status, 201);

    let mut anonymous = Browser::new();
    let info: Value =
        serde_json::from_str(&anonymous.get(&format!("{base}/v1/session/oidc")).body).unwrap();
    assert_eq!(
        info,
        json!({"enabled": true, "name": "Test IdP", "start_url": "/v1/session/oidc/start"})
    );

    // A publisher (group release) writes in the protected production environment.
    let mut pat = Browser::new();
    let done = sign_in(&mut pat, &base, "pat");
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some(format!("{base}/ui/").as_str()))
    );
    assert!(
        pat.cookie(&base, "burgee_oidc").is_none(),
        "the flow cookie is cleared"
    );
    let me = session(&mut pat, &base);
    assert_eq!(
        (me["email"].as_str(), me["role"].as_str()),
        (Some("pat@example.com"), Some("publisher"))
    );
    assert_eq!(me["name"], "Pat Publisher");
    assert_eq!(me["project"], Value::Null);
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let put = pat.api("PUT", &format!("{base}{PRODUCTION}"), &csrf, Some(enable()));
    assert_eq!(put.status, 200, "{put:?}");

    // A viewer (domain example.org) reads but cannot write there.
    let mut vic = Browser::new();
    assert_eq!(sign_in(&mut vic, &base, "vic").status, 303);
    let me = session(&mut vic, &base);
    assert_eq!(
        (me["email"].as_str(), me["role"].as_str()),
        (Some("vic@example.org"), Some("viewer"))
    );
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(vic.get(&format!("{base}{PRODUCTION}")).status, 200);
    let put = vic.api("PUT", &format!("{base}{PRODUCTION}"), &csrf, Some(enable()));
    assert_eq!(put.status, 403, "{put:?}");

    // Group web: editor in project default only. Group platform: admin everywhere.
    let mut eddie = Browser::new();
    assert_eq!(sign_in(&mut eddie, &base, "eddie").status, 303);
    let me = session(&mut eddie, &base);
    assert_eq!(
        (me["role"].as_str(), me["project"].as_str()),
        (Some("editor"), Some("default"))
    );
    let mut alice = Browser::new();
    assert_eq!(sign_in(&mut alice, &base, "alice").status, 303);
    assert_eq!(session(&mut alice, &base)["role"], "admin");

    // The audit log names the user: its creation and its write.
    let pat_id = session(&mut pat, &base)["id"].as_str().unwrap().to_owned();
    assert!(pat_id.starts_with("usr_"), "{pat_id}");
    let (_, audit) = admin(&server, "GET", &format!("/v1/audit?actor={pat_id}"), None);
    let entries = audit.as_array().unwrap().clone();
    let by_pat: Vec<&str> = entries
        .iter()
        .filter(|e| e["actor"] == pat_id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(by_pat.contains(&"user.create"), "{entries:?}");
    assert!(by_pat.contains(&"targeting.update"), "{entries:?}");

    // Signing in again re-derives the role and makes no second user.
    let mut again = Browser::new();
    assert_eq!(sign_in(&mut again, &base, "pat").status, 303);
    assert_eq!(session(&mut again, &base)["id"], pat_id.as_str());
    let emails = users(&server);
    assert_eq!(
        emails.iter().filter(|e| *e == "pat@example.com").count(),
        1,
        "{emails:?}"
    );
}

#[test]
fn refusals_create_no_user_and_bad_states_are_400() {
    if !provider_installed() {
        return;
    }
    let (_dir, server, _provider) = start(&[]);
    let base = server.url().to_owned();
    let refused = |a: &Answer, code: &str| {
        assert_eq!(a.status, 303, "{a:?}");
        assert_eq!(
            a.location.as_deref(),
            Some(format!("{base}/ui/?sso_error={code}").as_str())
        );
    };

    // Nobody's groups or domain match a rule: refused, no user, no session.
    let mut nobody = Browser::new();
    let a = sign_in(&mut nobody, &base, "nobody");
    refused(&a, "FORBIDDEN");
    assert!(nobody.cookie(&base, "burgee_session").is_none());
    assert!(!users(&server).iter().any(|e| e == "nobody@elsewhere.test"));

    // An e-mail the provider marks unverified is refused even with a mapped group.
    let mut mallory = Browser::new();
    refused(&sign_in(&mut mallory, &base, "unverified"), "UNAUTHORIZED");
    assert!(!users(&server).iter().any(|e| e == "mallory@example.com"));

    // An ID token for another nonce than the flow's (the authorization request tampered with):
    // the provider signs it, and burgee refuses it.
    let mut b = Browser::new();
    let other_nonce = |auth: String| {
        let (before, after) = auth.split_once("nonce=").unwrap();
        let rest = after
            .split_once('&')
            .map_or(String::new(), |(_, r)| format!("&{r}"));
        format!("{before}nonce=someone-elses-nonce{rest}")
    };
    refused(
        &sign_in_with(&mut b, &base, "alice", other_nonce, |u| u),
        "UNAUTHORIZED",
    );
    assert!(!users(&server).iter().any(|e| e == "alice@example.com"));

    // A tampered state is 400; so is the real one replayed after use, and one without the
    // browser's flow cookie.
    let mut b = Browser::new();
    let tampered = |u: String| u.replace("state=", "state=x");
    let a = sign_in_with(&mut b, &base, "alice", |u| u, tampered);
    assert_eq!(a.status, 400, "{a:?}");
    let body: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(body["code"], "BAD_REQUEST");
    assert!(
        body["message"].as_str().unwrap().contains("start again"),
        "{body}"
    );

    let mut b = Browser::new();
    let seen = std::cell::RefCell::new(String::new());
    let keep = |u: String| {
        seen.replace(u.clone());
        u
    };
    assert_eq!(
        sign_in_with(&mut b, &base, "alice", |u| u, keep).status,
        303
    );
    let flow = b.cookie(&base, "burgee_oidc");
    assert!(flow.is_none());
    b.set_cookie(&base, "burgee_oidc", "replayed");
    assert_eq!(b.get(&seen.borrow()).status, 400, "a used state is refused");

    let mut stranger = Browser::new();
    let mut victim = Browser::new();
    let start = victim.get(&format!("{base}/v1/session/oidc/start"));
    let state = start
        .location
        .unwrap()
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let forged = stranger.get(&format!(
        "{base}/v1/session/oidc/callback?code=x&state={state}"
    ));
    assert_eq!(forged.status, 400, "another browser's state is refused");
}

#[test]
fn without_an_issuer_sso_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::new(env!("CARGO_BIN_EXE_burgee"), dir.path()).start();
    let mut b = Browser::new();
    let info: Value =
        serde_json::from_str(&b.get(&format!("{}/v1/session/oidc", server.url())).body).unwrap();
    assert_eq!(
        info,
        json!({"enabled": false, "name": null, "start_url": null})
    );
    let a = b.get(&format!("{}/v1/session/oidc/start", server.url()));
    assert_eq!(a.status, 404, "{a:?}");
}
