//! `hms stock check`: proves every batch's balance from its ledger (exit 1 listing the
//! differences). The command's name and exit codes are a contract: scripts and the nightly
//! cron of sites without a running server call it.

use clap::{ArgMatches, FromArgMatches, Subcommand};
use hms_core::App;

/// Stock of the pharmacy.
#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Check that every batch's balance equals the sum of its ledger rows. Lists the batches
    /// that differ and exits with status 1 when any does; the result shows on the
    /// administrator's ledger card.
    Check,
}

/// `hms stock`, as `hms` lists it.
pub fn commands() -> Vec<clap::Command> {
    let stock = clap::Command::new("stock")
        .about("Pharmacy stock: prove every balance from the stock ledger.")
        .subcommand_required(true)
        .arg_required_else_help(true);
    vec![StockCommand::augment_subcommands(stock)]
}

/// Runs `hms stock ...` on a started application.
pub async fn run(app: &App, name: &str, matches: &ArgMatches) -> Result<(), String> {
    if name != "stock" {
        return Err(format!("the command '{name}' is not the pharmacy's"));
    }
    match StockCommand::from_arg_matches(matches).map_err(|e| e.to_string())? {
        StockCommand::Check => check(app).await,
    }
}

/// `hms stock check`.
async fn check(app: &App) -> Result<(), String> {
    let result = crate::alerts::run_check(&app.db, None)
        .await
        .map_err(|e| e.to_string())?;
    let Some(result) = result else {
        return Ok(());
    };
    if result.differences.is_empty() {
        println!(
            "{} batch(es) checked: every balance equals its ledger",
            result.batches
        );
        return Ok(());
    }
    for d in &result.differences {
        println!("{}", crate::alerts::describe(d));
    }
    Err(format!(
        "{} of {} batch(es) differ from their ledger",
        result.differences.len(),
        result.batches
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_check_is_the_one_subcommand() {
        let command = clap::Command::new("hms").subcommands(commands());
        let m = command
            .clone()
            .try_get_matches_from(["hms", "stock", "check"])
            .unwrap();
        let (name, sub) = m.subcommand().unwrap();
        assert_eq!(name, "stock");
        assert!(matches!(
            StockCommand::from_arg_matches(sub),
            Ok(StockCommand::Check)
        ));
        assert!(command
            .clone()
            .try_get_matches_from(["hms", "stock"])
            .is_err());
        assert!(command
            .try_get_matches_from(["hms", "stock", "fix"])
            .is_err());
    }
}
