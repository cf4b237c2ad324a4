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
    /// Send the documents waiting for KRA eTIMS now, in order (as the server does every
    /// minute); prints what was sent and exits 2 when KRA is unreachable or refuses one.
    EtimsSend,
}

/// `hms billing`, as `hms` lists it.
pub fn commands() -> Vec<clap::Command> {
    let billing = clap::Command::new("billing")
        .about("Billing: check the books, send what waits for KRA.")
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
        BillingCommand::EtimsSend => {
            let oscu = crate::etims::Oscu::from_config(&app.config)
                .ok_or("eTIMS is not configured: set etims_api and etims_cmc_key")?;
            let tin = hms_core::settings::get(&app.db, crate::docs::KRA_PIN_SETTING)
                .await
                .map_err(|e| e.to_string())?
                .filter(|p| !p.is_empty())
                .ok_or("the facility's KRA PIN is not set (Billing settings)")?;
            let round = crate::etims::send_due(&app.db, &oscu, &tin, true)
                .await
                .map_err(|e| e.to_string())?;
            println!("{} document(s) sent to KRA eTIMS", round.sent);
            if let Some(why) = round.offline.as_ref().or(round.refused.as_ref()) {
                println!("stopped: {why}");
                app.db.close().await;
                std::process::exit(2);
            }
            Ok(())
        }
    }
}
