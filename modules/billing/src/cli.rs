//! `hms billing verify`: recomputes every invoice, payment and shift from its parts and checks
//! that numbers run without gaps. Prints what disagrees and exits with status 2 when anything
//! does (a contract: scripts and the nightly cron call it).

use clap::{ArgMatches, FromArgMatches, Subcommand};
use hms_core::App;

/// Billing's commands.
#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Recompute balances from their parts and look for gaps in invoice and receipt numbers;
    /// exit status 2 when anything disagrees.
    Verify,
}

/// `hms billing`, as `hms` lists it.
pub fn commands() -> Vec<clap::Command> {
    let billing = clap::Command::new("billing")
        .about("Billing: check the books.")
        .subcommand_required(true)
        .arg_required_else_help(true);
    vec![BillingCommand::augment_subcommands(billing)]
}

pub async fn run(app: &App, name: &str, matches: &ArgMatches) -> Result<(), String> {
    if name != "billing" {
        return Err(format!("the command '{name}' is not billing's"));
    }
    match BillingCommand::from_arg_matches(matches).map_err(|e| e.to_string())? {
        BillingCommand::Verify => {
            let v = crate::verify::run(&app.db)
                .await
                .map_err(|e| e.to_string())?;
            for f in &v.findings {
                println!("{f}");
            }
            println!(
                "{} invoice(s), {} payment(s), {} shift(s) checked: {}",
                v.invoices,
                v.payments,
                v.shifts,
                if v.findings.is_empty() {
                    "the books agree".to_string()
                } else {
                    format!("{} finding(s)", v.findings.len())
                }
            );
            if !v.findings.is_empty() {
                app.db.close().await;
                std::process::exit(2);
            }
            Ok(())
        }
    }
}
