//! hms-licence: the reseller's tool. Makes the key pair (the verifying key goes into the HMS
//! build, the signing key stays with the reseller) and issues signed licences.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hms_core::licence::{self, Payload, Tier};

#[derive(Debug, Parser)]
#[command(
    name = "hms-licence",
    version,
    about = "Issue HMS licences (for resellers)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a key pair: DIR/licence-signing.key (keep it secret) and
    /// DIR/licence-verifying.key (build HMS with HMS_LICENCE_PUBLIC_KEY set to its contents).
    Keygen {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue a licence; the signed file is printed (redirect it to licence.json).
    Issue {
        /// The signing key file made by keygen.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "NAME")]
        facility: String,
        /// The facility's KMHFL (Master Facility List) code.
        #[arg(long, value_name = "CODE")]
        code: String,
        /// clinic, hospital or enterprise.
        #[arg(long, value_name = "TIER")]
        tier: String,
        /// Last valid day, YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD")]
        expires: String,
        /// A module beyond the tier (repeat for several).
        #[arg(long = "module", value_name = "ID")]
        modules: Vec<String>,
        #[arg(long, default_value_t = 1, value_name = "N")]
        branches: u32,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Keygen { out } => {
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            let secret_path = out.join("licence-signing.key");
            let public_path = out.join("licence-verifying.key");
            if secret_path.exists() || public_path.exists() {
                return Err(format!(
                    "{} already holds a key pair; refusing to overwrite it",
                    out.display()
                ));
            }
            let (secret, public) = licence::generate_keypair();
            write_private(&secret_path, &secret)?;
            std::fs::write(&public_path, format!("{public}\n"))
                .map_err(|e| format!("cannot write {}: {e}", public_path.display()))?;
            println!("signing key (keep secret): {}", secret_path.display());
            println!("verifying key:             {}", public_path.display());
            println!("build HMS with: HMS_LICENCE_PUBLIC_KEY={public} cargo build --release");
            Ok(())
        }
        Command::Issue {
            key,
            facility,
            code,
            tier,
            expires,
            modules,
            branches,
        } => {
            let text = std::fs::read_to_string(&key)
                .map_err(|e| format!("cannot read {}: {e}", key.display()))?;
            let signing = licence::parse_signing_key(&text)
                .ok_or("the key file is not a signing key made by keygen")?;
            let tier = Tier::parse(&tier).ok_or("tier must be clinic, hospital or enterprise")?;
            if hms_core::dates::event(&expires).is_err() {
                return Err("expires must be a date from 1900 to 2100, like 2027-12-31".into());
            }
            if facility.trim().is_empty() || code.trim().is_empty() {
                return Err("facility name and code are required".into());
            }
            if branches == 0 {
                return Err("branches must be at least 1".into());
            }
            let payload = Payload {
                facility_name: facility.trim().to_string(),
                facility_code: code.trim().to_string(),
                tier,
                modules,
                branches,
                issued: chrono::Utc::now().format("%Y-%m-%d").to_string(),
                expires,
            };
            let file = licence::sign(&signing, payload);
            println!(
                "{}",
                serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?
            );
            Ok(())
        }
    }
}

/// Writes the signing key readable by its owner only.
fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut f = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    writeln!(f, "{text}").map_err(|e| format!("cannot write {}: {e}", path.display()))
}
