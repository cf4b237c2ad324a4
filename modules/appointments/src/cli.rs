//! `hms reminders run`: the appointments module's command line. The command's name and
//! arguments are a contract (scripts run it from cron on servers without email).

use clap::{ArgMatches, FromArgMatches, Subcommand};
use hms_core::audit::Actor;
use hms_core::App;

use crate::reminders::{self, Facility};

/// Appointment reminders (the server queues them by itself each day).
#[derive(Debug, Subcommand)]
pub enum RemindersCommand {
    /// Queue the email reminders of one day's appointments now and print how many. Safe to
    /// repeat: an appointment's reminder is queued once.
    Run {
        /// The appointments' day, YYYY-MM-DD [default: today + reminder_days_before].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = event_day)]
        day: Option<chrono::NaiveDate>,
    },
}

/// A day typed on the command line, read like one typed in a form (1900 to 2100).
fn event_day(text: &str) -> Result<chrono::NaiveDate, String> {
    hms_core::dates::event(text).map_err(|e| e.message(hms_core::dates::latest_event()))
}

/// `hms reminders`, as `hms` lists it.
pub fn commands() -> Vec<clap::Command> {
    let reminders = clap::Command::new("reminders")
        .about("Appointment reminders (the server queues them by itself each day).")
        .subcommand_required(true)
        .arg_required_else_help(true);
    vec![RemindersCommand::augment_subcommands(reminders)]
}

/// Runs `hms reminders ...` on a started application.
pub async fn run(app: &App, name: &str, matches: &ArgMatches) -> Result<(), String> {
    if name != "reminders" {
        return Err(format!(
            "the command '{name}' is not the appointments module's"
        ));
    }
    match RemindersCommand::from_arg_matches(matches).map_err(|e| e.to_string())? {
        RemindersCommand::Run { day } => run_reminders(app, day).await,
    }
}

/// `hms reminders run`: queues the day's appointment reminders once.
async fn run_reminders(app: &App, day: Option<chrono::NaiveDate>) -> Result<(), String> {
    let day = match day {
        Some(day) => day,
        None => reminders::default_day(reminders::timing(&app.config).0)
            .ok_or("reminder_days_before leads past the calendar")?,
    };
    let facility = Facility::from_settings(&app.db)
        .await
        .map_err(|e| e.to_string())?;
    let queued = reminders::queue_reminders(&app.db, day, &facility, &Actor::cli(None))
        .await
        .map_err(|e| e.to_string())?;
    println!("{queued} reminder(s) queued for appointments on {day}");
    if app.config.smtp_url.is_none() {
        println!("no email server is configured (smtp_url): the emails wait in the outbox");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<RemindersCommand, String> {
        let command = clap::Command::new("hms").subcommands(commands());
        let matches = command
            .try_get_matches_from(args)
            .map_err(|e| e.to_string())?;
        let (name, sub) = matches.subcommand().ok_or("no command")?;
        assert_eq!(name, "reminders");
        RemindersCommand::from_arg_matches(sub).map_err(|e| e.to_string())
    }

    #[test]
    fn reminders_run_takes_an_optional_day() {
        assert!(matches!(
            parse(&["hms", "reminders", "run", "--day", "2026-05-12"]),
            Ok(RemindersCommand::Run { day: Some(d) })
                if d == chrono::NaiveDate::from_ymd_opt(2026, 5, 12).unwrap()
        ));
        assert!(matches!(
            parse(&["hms", "reminders", "run"]),
            Ok(RemindersCommand::Run { day: None })
        ));
        assert!(matches!(
            parse(&["hms", "reminders", "run", "--day", "12/05/2026"]),
            Ok(RemindersCommand::Run { day: Some(d) })
                if d == chrono::NaiveDate::from_ymd_opt(2026, 5, 12).unwrap()
        ));
        assert!(parse(&["hms", "reminders", "run", "--day", "31/02/2026"]).is_err());
        assert!(
            parse(&["hms", "reminders"]).is_err(),
            "a subcommand is required"
        );
    }
}
