//! `hms licence show` and `hms licence install`: the licence, its state and the modules it
//! switches on; a development build (no licence key) says so.

use hms_core::audit::Actor;
use hms_core::config::Loaded;
use hms_core::module::Registry;

use super::{open_db, Failure, LicenceCommand};

pub async fn licence(cmd: LicenceCommand, loaded: &Loaded) -> Result<(), Failure> {
    use hms_core::licence::{self, Licensing, Standing, SystemClock};
    let db = open_db(loaded).await?;
    let licensing = Licensing::new(licence::compiled_key(), std::sync::Arc::new(SystemClock));
    let result = async {
        licensing.ensure_first_start(&db).await?;
        if let LicenceCommand::Install { file } = &cmd {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure(format!("cannot read {}: {e}", file.display())))?;
            match licence::install(&db, &licensing, &text, &Actor::cli(None)).await {
                Ok(p) => println!(
                    "licence installed: {} ({}), valid until {}",
                    p.facility_name, p.facility_code, p.expires
                ),
                Err(licence::InstallError::Refused(e)) => {
                    return Err(Failure(format!("{e} Nothing was changed.")))
                }
                Err(licence::InstallError::Db(e)) => return Err(e.into()),
            }
        }
        let current = licensing.loaded(&db).await?;
        let verdict = current.verdict(licensing.today());
        match &verdict.licence {
            Some(p) => {
                println!("facility: {} (code {})", p.facility_name, p.facility_code);
                println!(
                    "tier:     {:?}{}",
                    p.tier,
                    if p.modules.is_empty() {
                        String::new()
                    } else {
                        format!(" + {}", p.modules.join(", "))
                    }
                );
                println!("branches: {}", p.branches);
                println!("expires:  {}", p.expires);
            }
            None if verdict.standing == Standing::Development => {
                println!("no licence: this is a development build (no licence key compiled in)")
            }
            None => println!(
                "no licence installed: evaluation since {}",
                current.first_start
            ),
        }
        let state = match verdict.standing {
            Standing::Development => {
                "development build: every compiled module on, nothing ever pauses".into()
            }
            Standing::Evaluation { days_left } => format!("evaluation, {days_left} day(s) left"),
            Standing::Valid { days_left } => format!("valid, {days_left} day(s) left"),
            Standing::Grace { days_left } => {
                format!("expired: grace, administrative work pauses in {days_left} day(s)")
            }
            Standing::ReadOnly => {
                "expired: administrative work paused; patient care continues".into()
            }
        };
        println!("state:    {state}");
        let registry = Registry::new(crate::compiled_modules(), &loaded.config.modules_disabled);
        for m in registry.states() {
            let on = m.enabled && verdict.covers(m.id);
            println!("module:   {:<14} {}", m.id, if on { "on" } else { "off" });
        }
        Ok::<(), Failure>(())
    }
    .await;
    let synced = hms_core::audit::sync_head_file(&db, &loaded.config.data_dir).await;
    db.close().await;
    result?;
    synced?;
    Ok(())
}
