//! The `hms` command line. Command and flag names are a contract: scripts and checks rely on them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use hms_core::audit::Actor;
use hms_core::backup::{self, upgrade};
use hms_core::config::{self, Loaded, Overrides};
use hms_core::db::{sqlite_path, Backend, Db};
use hms_core::module::{Module, Registry};

mod audit;
mod licence;
pub mod service;
mod users;

use audit::{audit_head, audit_verify};
use licence::licence;
use users::user;
pub use users::UserCommand;

#[derive(Debug, Parser)]
#[command(
    name = "hms",
    version,
    about = "HMS hospital management system: server and administration"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Configuration file (TOML); default ./hms.toml when present.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [env: HMS_BIND] [default: 127.0.0.1:8080]. Also after `serve`.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Data directory for the SQLite database and backups [env: HMS_DATA_DIR] [default: ./hms-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, sqlite://... or postgres://... [env: HMS_DATABASE_URL].
    #[arg(long = "database", global = true, value_name = "URL")]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default when no command is given).
    Serve(ServeArgs),
    /// Apply database migrations and exit (after a backup, as at start).
    Migrate(UpgradeArgs),
    /// List the compiled department modules, whether each is enabled and why.
    Modules,
    /// Print the effective configuration and where each value came from.
    Config(BindArgs),
    /// Run HMS as a service that starts with the computer (systemd on Linux).
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Show or install the licence.
    #[command(subcommand)]
    Licence(LicenceCommand),
    /// Check or show the audit trail's hash chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Write a checked copy of the database to FILE (SQLite; safe while the server runs).
    /// FILE must be outside the data directory and must not exist yet.
    Backup { file: PathBuf },
    /// Replace the database with the backup FILE (SQLite). Refused while a server uses the
    /// data directory: stop it first.
    Restore { file: PathBuf },
    /// Fill the database with a synthetic Kenyan facility (staff for every role, patients):
    /// for demonstrations, training and benchmarks. Refused on a database that holds patients
    /// unless --force.
    DemoData(crate::demo::DemoArgs),
}

/// `--bind`, for the commands that listen or show where the server listens.
#[derive(Debug, Args, Clone, Default)]
pub struct BindArgs {
    /// Address to listen on [env: HMS_BIND] [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
}

/// Going ahead with a new version's database changes without a backup.
#[derive(Debug, Args, Clone, Default)]
pub struct UpgradeArgs {
    /// Apply a new version's database changes without the backup HMS makes first (SQLite) or
    /// asks for (PostgreSQL: `hms backup`) [env: HMS_UPGRADE_WITHOUT_BACKUP].
    #[arg(long)]
    pub upgrade_without_backup: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub listen: BindArgs,
    #[command(flatten)]
    pub upgrade: UpgradeArgs,
}

/// What the command line asks for: a platform command (none: serve) or a module's.
pub enum Invocation {
    Platform(Option<Command>),
    Module {
        module: Arc<dyn Module>,
        name: String,
        matches: clap::ArgMatches,
    },
}

/// The whole command line: the platform's commands and every compiled module's.
pub fn command_line(modules: &[Arc<dyn Module>]) -> clap::Command {
    let mut command = Cli::command();
    for module in modules {
        for sub in module.commands() {
            command = command.subcommand(sub);
        }
    }
    command
}

/// Parses `args` (the program name first) into the global flags and what to run.
pub fn parse<I, T>(args: I) -> Result<(GlobalArgs, Invocation), clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let modules = crate::compiled_modules();
    let matches = command_line(&modules).try_get_matches_from(args)?;
    let mut global = GlobalArgs::from_arg_matches(&matches)?;
    // `--bind` given after the command (`hms serve --bind ...`) counts as well.
    let mut sub = matches.subcommand();
    while let Some((_, m)) = sub {
        if let Ok(Some(bind)) = m.try_get_one::<String>("bind") {
            global.bind = Some(bind.clone());
        }
        sub = m.subcommand();
    }
    let owner = matches.subcommand().and_then(|(name, sub)| {
        let module = modules
            .iter()
            .find(|m| m.commands().iter().any(|c| c.get_name() == name))?;
        Some(Invocation::Module {
            module: module.clone(),
            name: name.to_string(),
            matches: sub.clone(),
        })
    });
    let invocation = match owner {
        Some(module) => module,
        None => Invocation::Platform(Cli::from_arg_matches(&matches)?.command),
    };
    Ok((global, invocation))
}

#[derive(Debug, Subcommand)]
pub enum LicenceCommand {
    /// Show the licence, its state and the modules it switches on.
    Show,
    /// Check and install a licence file from the supplier (takes effect at once).
    Install { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the whole chain; exit 0 when intact, 2 naming the first broken row otherwise.
    Verify {
        /// A head recorded earlier, as ID:HASH (from `hms audit head`) or the HASH alone (from
        /// the daily anchor email); it must be on the chain. May be repeated.
        #[arg(long = "head", value_name = "ID:HASH|HASH")]
        heads: Vec<String>,
    },
    /// Print the chain head as ID:HASH (last row id and its hash) to keep somewhere else.
    Head,
}

/// A failure to report: message on standard error, exit code 1.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// The `hms` program: parses `args` (the program name first), loads the configuration, sets up
/// logging and runs the command, `serve` when none is given. The `hms` binary and the
/// benchmark (which runs this same code as its server) both enter here.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let (global, invocation) = parse(args).unwrap_or_else(|e| e.exit());
    crate::connections::open_files();
    let mut loaded = match load_config(&global) {
        Ok(l) => l,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(1);
        }
    };
    if let Invocation::Platform(Some(
        Command::Serve(ServeArgs { upgrade, .. }) | Command::Migrate(upgrade),
    )) = &invocation
    {
        if upgrade.upgrade_without_backup {
            loaded.config.upgrade_without_backup = true;
            loaded
                .sources
                .insert("upgrade_without_backup", config::Source::Flag);
        }
    }
    let serving = matches!(
        invocation,
        Invocation::Platform(None | Some(Command::Serve(_)))
    );
    // Commands print their own results; only the server logs at the configured level.
    let level = if serving {
        loaded.config.log.as_str()
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{level},sqlx=warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move { run_invocation(invocation, loaded).await })
}

/// Parses `args` and runs the command with an already loaded configuration (tests).
pub async fn run_args<I, T>(args: I, loaded: Loaded) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match parse(args) {
        Ok((_, invocation)) => run_invocation(invocation, loaded).await,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

async fn run_invocation(invocation: Invocation, loaded: Loaded) -> ExitCode {
    match invocation {
        Invocation::Platform(command) => {
            run(
                command.unwrap_or(Command::Serve(ServeArgs::default())),
                loaded,
            )
            .await
        }
        Invocation::Module {
            module,
            name,
            matches,
        } => finish(module_command(module, &name, &matches, &loaded).await),
    }
}

/// A module's command, on the application started as the server would start it; refused
/// while the module is disabled.
async fn module_command(
    module: Arc<dyn Module>,
    name: &str,
    matches: &clap::ArgMatches,
    loaded: &Loaded,
) -> Result<(), Failure> {
    let registry = Registry::new(crate::compiled_modules(), &loaded.config.modules_disabled);
    if !registry.is_enabled(module.id()) {
        return Err(Failure(format!(
            "the {} module is disabled (modules_disabled); nothing was done",
            module.id()
        )));
    }
    let app = crate::start(loaded.config.clone()).await?;
    let result = module.run_command(&app, name, matches).await;
    app.audit_reads.flush().await;
    // What the command changed is audited: keep the head file current as the server does.
    let synced = hms_core::audit::sync_head_file(&app.db, &loaded.config.data_dir).await;
    app.db.close().await;
    result.map_err(Failure)?;
    synced?;
    Ok(())
}

fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// `hms serve`: the web server until Ctrl-C. The port is taken before the database is opened,
/// so a port in use is reported before anything is created or migrated.
async fn serve(loaded: Loaded) -> ExitCode {
    let config = loaded.config;
    let bind = config.bind.clone();
    // Held until the process ends: `hms restore` and a second server keep off meanwhile.
    let _lock = match crate::server::lock_data_dir(&config) {
        Ok(lock) => lock,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(1);
        }
    };
    let acceptor = match crate::server::bind(&bind).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {bind}: {e}. Is HMS (or another program) already \
                 running there? Stop it, or start with --bind and another port. Nothing was \
                 changed."
            );
            return ExitCode::from(1);
        }
    };
    let app = match crate::start(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!("HMS is running at http://{bind}/ (press Ctrl-C to stop)");
    let backups = crate::server::start_backups(&app);
    let shutdown = crate::server::shutdown_with_backups(crate::server::shutdown_signal(), backups);
    match crate::server::serve(app, acceptor, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn load_config(global: &GlobalArgs) -> Result<Loaded, Failure> {
    let mut loaded = config::load(&Overrides {
        config_file: global.config.clone(),
        bind: global.bind.clone(),
        data_dir: global.data_dir.clone(),
        database_url: global.database.clone(),
    })?;
    let modules = crate::compiled_modules();
    hms_core::module_config::resolve(&mut loaded, &declared_settings(&modules), |k| {
        std::env::var(k).ok()
    })?;
    Ok(loaded)
}

/// Each compiled module's id and settings.
fn declared_settings(
    modules: &[Arc<dyn Module>],
) -> Vec<(&'static str, &'static [hms_core::module_config::Setting])> {
    modules.iter().map(|m| (m.id(), m.settings())).collect()
}

/// Runs a command other than `serve`.
pub async fn run(command: Command, loaded: Loaded) -> ExitCode {
    let result = match command {
        Command::Serve(_) => return serve(loaded).await,
        Command::Modules => {
            print_modules(&loaded);
            Ok(())
        }
        Command::Config(_) => {
            print_config(&loaded);
            Ok(())
        }
        Command::Service(cmd) => service::run(cmd, &loaded),
        Command::Migrate(_) => migrate(&loaded).await,
        Command::User(cmd) => user(cmd, &loaded).await,
        Command::Audit(AuditCommand::Head) => audit_head(&loaded).await,
        Command::Licence(cmd) => licence(cmd, &loaded).await,
        Command::Audit(AuditCommand::Verify { heads }) => {
            return audit_verify(&loaded, &heads).await;
        }
        Command::Backup { file } => backup(&loaded, &file).await,
        Command::Restore { file } => restore(&loaded, &file).await,
        Command::DemoData(args) => crate::demo::run(args, &loaded).await,
    };
    finish(result)
}

fn print_modules(loaded: &Loaded) {
    let registry = Registry::new(crate::compiled_modules(), &loaded.config.modules_disabled);
    if let Err(e) = registry.install_translations() {
        eprintln!("warning: {e}");
    }
    let states = registry.states();
    if states.is_empty() {
        println!("no modules are compiled into this binary");
    }
    for m in states {
        println!(
            "{:<14} {:<24} {:<9} {}",
            m.id,
            hms_core::i18n::t(m.title),
            if m.enabled { "enabled" } else { "disabled" },
            m.reason
        );
    }
}

fn print_config(loaded: &Loaded) {
    if let Some(file) = &loaded.file {
        println!("# config file: {}", file.display());
    } else {
        println!("# config file: none");
    }
    for (key, value, source) in loaded.describe() {
        println!("{key} = {value}    # {source}");
    }
    for (key, value, source) in
        loaded.describe_modules(&declared_settings(&crate::compiled_modules()))
    {
        println!("{key} = {value}    # {source}");
    }
    let files = crate::connections::open_files();
    let limit = |n: u64| match n {
        u64::MAX => "unlimited".to_string(),
        n => n.to_string(),
    };
    println!(
        "# open files: limit {} (hard limit {}, {} at start); connections at most {}",
        limit(files.soft),
        limit(files.hard),
        if files.soft > files.before {
            format!("raised from {}", limit(files.before))
        } else {
            "not raised".to_string()
        },
        crate::connections::max_connections(loaded.config.max_connections, files.soft)
    );
}

/// The configured database, created or migrated as at start (after a backup when it holds
/// data, see [`upgrade::prepare`]).
async fn open_db(loaded: &Loaded) -> Result<Db, Failure> {
    let (db, done) = upgrade::open(&loaded.config).await?;
    if let upgrade::Upgrade::BackedUp(file) = done {
        eprintln!(
            "backed up before applying this version's database changes: {}",
            file.display()
        );
    }
    Ok(db)
}

async fn migrate(loaded: &Loaded) -> Result<(), Failure> {
    let before = {
        let db = Db::connect(&loaded.config.effective_database_url()).await?;
        let state = db.migration_state().await;
        db.close().await;
        state?.pending.len()
    };
    let db = open_db(loaded).await?;
    db.close().await;
    println!("database is up to date ({before} migration(s) applied)");
    Ok(())
}

async fn backup(loaded: &Loaded, file: &Path) -> Result<(), Failure> {
    let url = loaded.config.effective_database_url();
    if Backend::from_url(&url)? == Backend::Postgres {
        return pg_backup(loaded, &url, file).await;
    }
    let database = sqlite_path(&url);
    if !Path::new(&database).is_file() {
        return Err(Failure(format!(
            "there is no database at {database}; nothing to back up"
        )));
    }
    // As it is: no migrations, so the copy is the database the server uses.
    let db = Db::connect(&url).await?;
    let result = backup::backup_now(&db, &loaded.config.data_dir, file, &Actor::cli(None)).await;
    let synced = hms_core::audit::sync_head_file(&db, &loaded.config.data_dir).await;
    db.close().await;
    synced?;
    let done = result?;
    println!("{}: {}", done.file.unwrap_or_default(), done.message);
    Ok(())
}

/// `hms backup FILE` on PostgreSQL: a checked pg_dump, recorded (it lets an upgrade go ahead).
async fn pg_backup(loaded: &Loaded, url: &str, file: &Path) -> Result<(), Failure> {
    // As it is: the dump is of the database the servers use, before any new migration.
    let db = Db::connect(url).await;
    let db = match db {
        Ok(db) => db,
        Err(e) => {
            return Err(Failure(format!(
                "cannot reach the database ({e}); nothing was written.\n{}",
                backup::POSTGRES_BACKUP_HELP
            )))
        }
    };
    let done = upgrade::pg_dump(&db, url, file, &Actor::cli(None)).await;
    let synced = hms_core::audit::sync_head_file(&db, &loaded.config.data_dir).await;
    db.close().await;
    let done = done?;
    synced?;
    println!("{}: {}", done.file.unwrap_or_default(), done.message);
    Ok(())
}

async fn restore(loaded: &Loaded, file: &Path) -> Result<(), Failure> {
    let url = loaded.config.effective_database_url();
    if Backend::from_url(&url)? == Backend::Postgres {
        return Err(Failure(backup::POSTGRES_RESTORE_HELP.into()));
    }
    let restored = backup::restore(&loaded.config, file).await?;
    println!(
        "restored {} into {} ({} user(s)); start HMS again with `hms serve`",
        file.display(),
        restored.database.display(),
        restored.users
    );
    Ok(())
}
