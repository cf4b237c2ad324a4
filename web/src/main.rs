use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use hms_web::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = match cli::load_config(&cli.global) {
        Ok(l) => l,
        Err(cli::Failure(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(1);
        }
    };
    let serving = matches!(cli.command, None | Some(Command::Serve));
    // Commands print their own results; only the server logs at the configured level.
    let level = if serving {
        loaded.config.log.as_str()
    } else {
        "warn"
    };
    let filter = EnvFilter::try_new(format!("{level},sqlx=warn"))
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            None | Some(Command::Serve) => serve(loaded).await,
            Some(command) => cli::run(command, loaded).await,
        }
    })
}

async fn serve(loaded: hms_core::config::Loaded) -> ExitCode {
    let config = loaded.config;
    let bind = config.bind.clone();
    // Held until the process ends: `hms restore` and a second server keep off meanwhile.
    let _lock = match hms_web::server::lock_data_dir(&config) {
        Ok(lock) => lock,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(1);
        }
    };
    let app = match hms_web::start(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let acceptor = match hms_web::server::bind(&bind).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot listen on {bind}: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!("HMS is running at http://{bind}/ (press Ctrl-C to stop)");
    let backups = hms_web::server::start_backups(&app);
    let shutdown =
        hms_web::server::shutdown_with_backups(hms_web::server::shutdown_signal(), backups);
    match hms_web::server::serve(app, acceptor, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
