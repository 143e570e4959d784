//! `burgee user create|list|disable`: console users, next to a running server (they open the
//! database, never the event log).

use clap::{Args, Subcommand};

use crate::cli::admin::cli_actor;
use crate::cli::{CliError, StoreArgs, failed};
use crate::model::{Role, UserInput};
use crate::service::AppState;

/// `burgee user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a console user; prints its one-time password unless --password-stdin gives one.
    Create(UserCreateArgs),
    /// List console users (never their password hashes).
    List(StoreArgs),
    /// Disable a user (by id or e-mail): it can no longer sign in and its sessions end.
    Disable {
        /// User id (`usr_...`) or e-mail.
        user: String,
        /// Where the state lives.
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `burgee user create`.
#[derive(Debug, Args)]
pub struct UserCreateArgs {
    /// Where the state lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// E-mail address (what the user signs in with).
    #[arg(long)]
    pub email: String,
    /// Display name (default: the e-mail).
    #[arg(long)]
    pub name: Option<String>,
    /// Role.
    #[arg(long, value_enum)]
    pub role: Role,
    /// Project scope (omit for every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Read the password from the first line of stdin instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
}

impl UserCommand {
    /// The store the command works on.
    pub(crate) fn store(&self) -> StoreArgs {
        match self {
            UserCommand::Create(a) => a.store.clone(),
            UserCommand::List(s) | UserCommand::Disable { store: s, .. } => s.clone(),
        }
    }
}

/// Runs a `burgee user` command.
pub(crate) async fn user(state: AppState, cmd: UserCommand) -> Result<(), CliError> {
    match cmd {
        UserCommand::Create(a) => {
            let password = if a.password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| CliError::general(format!("reading the password: {e}")))?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let input = UserInput {
                email: a.email,
                name: a.name,
                role: a.role,
                project: a.project,
                password,
            };
            let created = state
                .create_user(&cli_actor(), &input)
                .await
                .map_err(failed)?;
            eprintln!(
                "created {} <{}> ({})",
                created.user.id,
                created.user.email,
                created.user.role.as_str()
            );
            if let Some(password) = created.password {
                eprintln!("one-time password (shown once, stored only as an argon2id hash):");
                println!("{password}");
            }
        }
        UserCommand::List(_) => {
            for u in state.users(None).await.map_err(failed)? {
                println!(
                    "{} {} role={} project={} disabled={} name={:?}",
                    u.id,
                    u.email,
                    u.role.as_str(),
                    u.project.as_deref().unwrap_or("*"),
                    u.disabled_at.is_some(),
                    u.name
                );
            }
        }
        UserCommand::Disable { user, .. } => {
            let u = state
                .disable_user(&cli_actor(), &user)
                .await
                .map_err(failed)?;
            eprintln!("disabled {} <{}>", u.id, u.email);
        }
    }
    Ok(())
}
