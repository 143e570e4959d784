//! First start: the first project, its keys, the bootstrap admin token and SDK keys, the demo.

use std::path::PathBuf;

use super::tokens::insert_token;
use super::users::PreparedUser;
use crate::config::{ENVIRONMENTS, ServerConfig};
use crate::demo;
use crate::error::StateError;
use crate::keys::{self};
use crate::model::{ProjectInput, Role, TokenInput, UserInput};
use crate::service::AppState;
use crate::service::write::Tx;

/// The plaintext credentials created at first start (shown once; only hashes are stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The bootstrap admin token (`bga_...`, role admin, every project).
    pub admin_token: String,
    /// `(environment, SDK key)` of the first project, in [`ENVIRONMENTS`] order (`bgs_...`).
    pub sdk_keys: Vec<(String, String)>,
    /// `(environment, client-side key)` of the first project, in [`ENVIRONMENTS`] order
    /// (`bgc_...`; public, for browsers and apps).
    pub client_keys: Vec<(String, String)>,
    /// E-mail of the console's first user (role admin, every project).
    pub admin_email: String,
    /// Its one-time password (stored only as an argon2id hash).
    pub admin_password: String,
    /// Where they were written: `DATA_DIR/credentials.env`.
    pub file: PathBuf,
}

/// E-mail of the console user created at first start.
pub const FIRST_USER_EMAIL: &str = "admin@localhost";

impl Credentials {
    /// The SDK key of `environment`, if there is one.
    pub fn sdk_key(&self, environment: &str) -> Option<&str> {
        self.sdk_keys
            .iter()
            .find(|(env, _)| env == environment)
            .map(|(_, key)| key.as_str())
    }

    /// Shell lines: `export BURGEE_ADMIN_TOKEN=...`, `export BURGEE_SDK_KEY=<production>`,
    /// `export BURGEE_SDK_KEY_<ENV>=...` for each environment, and the same for client-side
    /// keys (`BURGEE_CLIENT_KEY`, `BURGEE_CLIENT_KEY_<ENV>`).
    pub fn env_file_text(&self) -> String {
        let mut out =
            String::from("# Burgee credentials, created at first start. Keep this file secret.\n");
        out.push_str(&format!("export BURGEE_ADMIN_TOKEN={}\n", self.admin_token));
        out.push_str(&format!("export BURGEE_ADMIN_EMAIL={}\n", self.admin_email));
        out.push_str(&format!(
            "export BURGEE_ADMIN_PASSWORD={}\n",
            self.admin_password
        ));
        if let Some(key) = self.sdk_key("production") {
            out.push_str(&format!("export BURGEE_SDK_KEY={key}\n"));
        }
        for (env, key) in &self.sdk_keys {
            out.push_str(&format!(
                "export BURGEE_SDK_KEY_{}={key}\n",
                env.to_ascii_uppercase()
            ));
        }
        if let Some((_, key)) = self.client_keys.iter().find(|(e, _)| e == "production") {
            out.push_str(&format!("export BURGEE_CLIENT_KEY={key}\n"));
        }
        for (env, key) in &self.client_keys {
            out.push_str(&format!(
                "export BURGEE_CLIENT_KEY_{}={key}\n",
                env.to_ascii_uppercase()
            ));
        }
        out
    }
}

impl AppState {
    pub(crate) async fn bootstrap(&self, config: &ServerConfig) -> Result<Credentials, StateError> {
        let project = if config.demo { "webshop" } else { "default" };
        let actor = "system";
        let first_user = PreparedUser::new(&UserInput {
            email: FIRST_USER_EMAIL.into(),
            name: Some("Administrator".into()),
            role: Role::Admin,
            project: None,
            password: None,
        })
        .await?;
        self.write(actor, async |tx| {
            let now = tx.now;
            let created = self
                .create_project_in(
                    tx,
                    &ProjectInput {
                        key: project.into(),
                        name: Some(if config.demo { "Web shop" } else { "Default" }.into()),
                        description: None,
                        environments: None,
                    },
                    true,
                    !config.demo,
                )
                .await?;
            if config.demo {
                self.seed_demo(tx, project).await?;
                for env in ENVIRONMENTS {
                    tx.publish(project, env, "demo seed").await?;
                }
            }
            let admin = insert_token(
                tx.conn(),
                &TokenInput {
                    kind: "admin".into(),
                    name: "bootstrap admin".into(),
                    role: Some(Role::Admin),
                    project: None,
                    environment: None,
                    service: None,
                },
                actor,
                now,
            )
            .await?;
            let (mut sdk_keys, mut client_keys) = (Vec::new(), Vec::new());
            for env in ENVIRONMENTS {
                for (kind, name, keys) in [
                    ("sdk", "SDK key", &mut sdk_keys),
                    ("client", "client-side key", &mut client_keys),
                ] {
                    let created = insert_token(
                        tx.conn(),
                        &TokenInput {
                            kind: kind.into(),
                            name: format!("{env} {name}"),
                            role: None,
                            project: Some(project.into()),
                            environment: Some(env.into()),
                            service: None,
                        },
                        actor,
                        now,
                    )
                    .await?;
                    keys.push((env.to_owned(), created.token));
                }
            }
            tx.audit(
                "bootstrap",
                (Some(project), None),
                &format!("project:{}", created.project.key),
                None,
                Some(format!(
                    "{{\"admin_token\":\"{}\",\"demo\":{}}}",
                    admin.info.id, config.demo
                )),
            )
            .await?;
            let user = self.insert_user_in(tx, &first_user).await?;
            let credentials = Credentials {
                admin_token: admin.token,
                admin_email: user.email,
                admin_password: first_user.generated.clone().unwrap_or_default(),
                sdk_keys,
                client_keys,
                file: config.data_dir.join("credentials.env"),
            };
            keys::write_new_file(
                &credentials.file,
                credentials.env_file_text().as_bytes(),
                0o600,
            )?;
            Ok(credentials)
        })
        .await
    }

    /// Seeds [`demo::Demo`] (its dates placed by the write's time) through the same service
    /// steps as `POST .../segments` and `POST .../flags`: validated and audited like any write.
    /// The caller publishes.
    pub(crate) async fn seed_demo(&self, tx: &mut Tx<'_>, project: &str) -> Result<(), StateError> {
        let demo = demo::Demo::load(demo::Calendar::seeded_at(tx.now))
            .map_err(|e| StateError::Corrupt(format!("the demo data: {e}")))?;
        for (env, segments) in &demo.segments {
            for segment in segments {
                self.put_segment_in(tx, project, env, segment, true, None)
                    .await?;
            }
        }
        for flag in &demo.flags {
            self.create_flag_in(tx, project, flag).await?;
        }
        for (service, s) in &demo.configs {
            self.seed_service_in(tx, project, service, &s.description, &s.entries)
                .await?;
        }
        Ok(())
    }
}
