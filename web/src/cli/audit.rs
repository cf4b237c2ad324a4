//! `hms audit head` and `hms audit verify`: the audit trail's hash chain from the command line.

use std::process::ExitCode;

use hms_core::config::Loaded;

use super::{open_db, Failure};

pub async fn audit_head(loaded: &Loaded) -> Result<(), Failure> {
    let db = open_db(loaded).await?;
    let head = hms_core::audit::sync_head_file(&db, &loaded.config.data_dir).await;
    db.close().await;
    let (id, hash) = head?;
    println!("{id}:{hash}");
    Ok(())
}

/// Exit codes: 0 intact, 2 broken, 1 could not check.
pub async fn audit_verify(loaded: &Loaded, given: &[String]) -> ExitCode {
    let mut heads = Vec::new();
    let mut anchors = Vec::new();
    let is_hash = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
    for h in given {
        let h = h.trim();
        if is_hash(h) {
            anchors.push(h.to_ascii_lowercase());
            continue;
        }
        match h
            .split_once(':')
            .filter(|(_, hash)| is_hash(hash))
            .and_then(|(id, hash)| Some((id.parse::<i64>().ok()?, hash.to_ascii_lowercase())))
        {
            Some(head) => heads.push(head),
            None => {
                eprintln!("error: --head must look like 1234:<64 hex digits>, as `hms audit head` prints it, or the 64 hex digits alone");
                return ExitCode::from(1);
            }
        }
    }
    if let Some(file_head) = hms_core::audit::read_head_file(&loaded.config.data_dir) {
        heads.push(file_head);
    }
    let db = match open_db(loaded).await {
        Ok(db) => db,
        Err(Failure(m)) => {
            eprintln!("error: {m}");
            return ExitCode::from(1);
        }
    };
    let verdict = hms_core::audit::verify_with(&db, &heads, &anchors).await;
    db.close().await;
    match verdict {
        Ok(hms_core::audit::Verdict::Intact { rows, head }) => {
            println!("audit trail intact: {rows} row(s), head {head}");
            ExitCode::SUCCESS
        }
        Ok(hms_core::audit::Verdict::Broken { row: 0, reason }) => {
            println!("audit trail BROKEN: {reason}");
            ExitCode::from(2)
        }
        Ok(hms_core::audit::Verdict::Broken { row, reason }) => {
            println!("audit trail BROKEN at row {row}: {reason}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
