//! `hms user ...`: staff accounts from the command line (scripts, and the first account of a
//! server without a browser at hand).

use std::io::{BufRead, IsTerminal, Write};

use clap::Subcommand;

use hms_core::audit::Actor;
use hms_core::auth::{password, throttle, users};
use hms_core::config::Loaded;
use hms_core::db::Db;

use super::{open_db, Failure};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from standard input (one line) when it is not a
    /// terminal, otherwise asked for twice.
    Add {
        username: String,
        /// Role to grant (repeat for several): admin, receptionist, doctor, nurse, lab_tech,
        /// pharmacist, accountant, or a role added by an administrator.
        #[arg(long = "role", required = true, value_name = "ROLE")]
        roles: Vec<String>,
        /// The person's full name (default: the username).
        #[arg(long, value_name = "NAME")]
        full_name: Option<String>,
    },
    /// List users.
    List,
    /// Set a user's password (read like `user add`); their sessions end.
    SetPassword { username: String },
    /// Disable a user; their sessions end at once.
    Disable { username: String },
    /// Clear the sign-in delay built up by failed attempts for a username.
    ClearThrottle { username: String },
}

pub async fn user(cmd: UserCommand, loaded: &Loaded) -> Result<(), Failure> {
    let db = open_db(loaded).await?;
    let result = user_on(cmd, &db).await;
    // Changes made here are audited: keep the head file current as the server does.
    let synced = hms_core::audit::sync_head_file(&db, &loaded.config.data_dir).await;
    db.close().await;
    result?;
    synced?;
    Ok(())
}

async fn user_on(cmd: UserCommand, db: &Db) -> Result<(), Failure> {
    let actor = Actor::cli(None);
    match cmd {
        UserCommand::Add {
            username,
            roles,
            full_name,
        } => {
            let username = users::normalize_username(&username);
            users::check_username(&username).map_err(hms_core::i18n::t)?;
            let full_name = full_name.unwrap_or_else(|| username.clone());
            users::check_full_name(&full_name).map_err(hms_core::i18n::t)?;
            let known: Vec<String> = users::all_roles(db)
                .await?
                .into_iter()
                .map(|r| r.name)
                .collect();
            if let Some(bad) = roles.iter().find(|r| !known.contains(r)) {
                return Err(Failure(format!(
                    "unknown role '{bad}'; roles are: {}",
                    known.join(", ")
                )));
            }
            if users::id_by_username(db, &username).await?.is_some() {
                return Err(Failure(format!(
                    "the username '{username}' is already taken"
                )));
            }
            let pw = read_new_password(&username)?;
            let hash = hms_core::auth::password::Hasher::new().hash(&pw).await?;
            let mut tx = db.begin().await?;
            let new = users::NewUser {
                username: username.clone(),
                full_name,
                password_hash: hash,
                roles,
                details: Default::default(),
                must_change_password: false,
            };
            users::create(&mut tx, &new, &actor, false).await?;
            tx.commit().await?;
            println!("user '{username}' added");
        }
        UserCommand::List => {
            let list = users::list(db).await?;
            if list.is_empty() {
                println!("no users yet (open the web page to run first-time setup, or use 'hms user add')");
            }
            for u in list {
                println!(
                    "{:<24} {:<32} {:<10} {}",
                    u.username,
                    u.full_name,
                    if u.is_active { "active" } else { "disabled" },
                    u.roles.join(",")
                );
            }
        }
        UserCommand::SetPassword { username } => {
            let username = users::normalize_username(&username);
            let id = find(db, &username).await?;
            let pw = read_new_password(&username)?;
            let hash = hms_core::auth::password::Hasher::new().hash(&pw).await?;
            let mut tx = db.begin().await?;
            users::set_password(&mut tx, id, &hash, None, false, &actor).await?;
            tx.commit().await?;
            println!("password of '{username}' changed; their sessions have ended");
        }
        UserCommand::Disable { username } => {
            let username = users::normalize_username(&username);
            let id = find(db, &username).await?;
            let mut tx = db.begin().await?;
            let changed = users::disable(&mut tx, id, &actor).await?;
            tx.commit().await?;
            if changed {
                println!("user '{username}' disabled; their sessions have ended");
            } else {
                println!("user '{username}' was already disabled");
            }
        }
        UserCommand::ClearThrottle { username } => {
            let username = users::normalize_username(&username);
            let mut tx = db.begin().await?;
            let cleared = throttle::clear_user(&mut tx, &username).await?;
            hms_core::audit::record(
                &mut tx,
                &actor,
                hms_core::audit::Event::new("auth.throttle_clear", "user", None)
                    .detail(serde_json::json!({"username": username, "cleared": cleared})),
            )
            .await?;
            tx.commit().await?;
            println!("sign-in delays cleared for '{username}' ({cleared} address(es))");
        }
    }
    Ok(())
}

async fn find(db: &Db, username: &str) -> Result<i64, Failure> {
    users::id_by_username(db, username)
        .await?
        .ok_or_else(|| Failure(format!("no user called '{username}'")))
}

/// Reads a new password: one line from standard input when it is not a terminal (scripts),
/// otherwise asked for twice without echo. Checked against the password policy.
fn read_new_password(username: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    let pw = if stdin.is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let second = rpassword::prompt_password("Type it again: ")?;
        if first != second {
            return Err(Failure(
                "the two passwords are not the same; nothing changed".into(),
            ));
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    password::check(&pw, username)
        .map_err(|m| Failure(format!("{} Nothing changed.", hms_core::i18n::t(m))))?;
    let _ = std::io::stdout().flush();
    Ok(pw)
}
