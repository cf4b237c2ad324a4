//! Install, run, licence: what a clinic's IT person meets before the front desk opens. The
//! backup folder is found from the data directory (never the folder HMS was started in) and
//! shown whole on the backups card; a new version backs the database up before it changes it
//! (SQLite), or waits for `hms backup` (PostgreSQL); a build without a licence key says it is a
//! development build and never pauses anything; `hms demo-data --help` offers no `--bind`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hms_core::backup::upgrade::{self, Upgrade, UpgradeError};
use hms_core::config::{Config, Loaded};
use hms_core::db::Db;
use hms_testkit::browser::TempDir;
use hms_testkit::licensing::TestClock;
use hms_testkit::{Backend, TestApp};

/// The migration an older version of HMS stopped at (any but the last will do).
const OLDER_VERSION: &str = "0018";

fn loaded(config: Config) -> Loaded {
    Loaded {
        config,
        sources: Default::default(),
        file: None,
        module_sources: Default::default(),
    }
}

fn upgrade_backups(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with("hms-before-upgrade-") && n.ends_with(".db"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A database as an older version of HMS left it: migrated up to [`OLDER_VERSION`].
async fn older_database(url: &str) {
    let db = Db::connect(url).await.expect("connects");
    db.migrate_until(Some(OLDER_VERSION))
        .await
        .expect("older migrations apply");
    assert!(
        !db.migration_state().await.unwrap().pending.is_empty(),
        "this version has migrations the older one lacked"
    );
    db.close().await;
}

async fn pending(url: &str) -> usize {
    let db = Db::connect(url).await.expect("connects");
    let n = db.migration_state().await.unwrap().pending.len();
    db.close().await;
    n
}

#[test]
fn demo_data_help_offers_only_what_it_uses() {
    let help = |args: &[&str]| match hms_web::cli::parse(args.iter().copied()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{args:?} shows help"),
    };
    let demo = help(&["hms", "demo-data", "--help"]);
    assert!(demo.contains("--patients"), "{demo}");
    assert!(!demo.contains("--bind"), "demo-data never listens: {demo}");
    assert!(help(&["hms", "serve", "--help"]).contains("--bind"));
    // Given after the command or before it, --bind still reaches the server's settings.
    for args in [
        ["hms", "serve", "--bind", "0.0.0.0:9000"],
        ["hms", "--bind", "0.0.0.0:9000", "serve"],
    ] {
        let (global, _) = hms_web::cli::parse(args).expect("parses");
        assert_eq!(global.bind.as_deref(), Some("0.0.0.0:9000"), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_reported_before_the_database_is_created() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let site = TempDir::new("hms-port");
    let data = site.path().join("data");
    let config = Config {
        bind: taken.local_addr().unwrap().to_string(),
        data_dir: data.clone(),
        ..Config::default()
    };
    let code = hms_web::cli::run_args(["hms", "serve"], loaded(config)).await;
    assert_eq!(code, ExitCode::from(1));
    assert!(
        !data.join("hms.db").exists(),
        "nothing created or migrated before the port was found taken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_folder_sits_beside_the_data_directory_and_the_card_shows_it_whole() {
    for (setting, expected) in [
        (None, "hms-backups"),
        (Some("nightly/copies"), "nightly/copies"),
    ] {
        let app = TestApp::start_with(Backend::Sqlite, |c| {
            c.backup_dir = setting.map(PathBuf::from)
        })
        .await
        .unwrap();
        let beside = app.data_dir.parent().unwrap().join(expected);
        assert_eq!(app.app.config.backup_folder(), beside);
        assert!(beside.is_absolute());
        let admin = app.setup_admin().await;
        let card = admin.get_htmx("/admin/cards/backup").await;
        assert_eq!(card.status, 200);
        assert!(
            card.body.contains(&beside.display().to_string()),
            "the card names {} in full: {}",
            beside.display(),
            card.body
        );
    }
    // The working directory plays no part: a service started from `/` keeps backups beside
    // its data, not in `/hms-backups`.
    let config = Config {
        data_dir: PathBuf::from("/var/lib/hms/data"),
        ..Config::default()
    };
    assert_eq!(
        config.backup_folder(),
        Path::new("/var/lib/hms/hms-backups")
    );
    let config = Config {
        backup_dir: Some(PathBuf::from("/media/usb/hms")),
        ..config
    };
    assert_eq!(config.backup_folder(), Path::new("/media/usb/hms"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_backs_up_a_sqlite_database_before_changing_it() {
    let site = TempDir::new("hms-upgrade");
    let config = Config {
        data_dir: site.path().join("data"),
        ..Config::default()
    };
    let folder = config.backup_folder();
    let url = config.effective_database_url();

    // A new database has nothing to lose: no backup.
    let fresh = Config {
        data_dir: site.path().join("fresh"),
        backup_dir: Some(site.path().join("fresh-backups")),
        ..Config::default()
    };
    let (db, done) = upgrade::open(&fresh).await.expect("a new database opens");
    db.close().await;
    assert_eq!(done, Upgrade::NotNeeded);
    assert!(upgrade_backups(&site.path().join("fresh-backups")).is_empty());

    // The backup folder inside the data directory: the backup fails, so nothing changes.
    older_database(&url).await;
    let before = pending(&url).await;
    let inside = Config {
        backup_dir: Some(PathBuf::from("data/backups")),
        ..config.clone()
    };
    match upgrade::open(&inside).await {
        Err(UpgradeError::BackupFailed { .. }) => {}
        other => panic!("refused without a backup, not {:?}", other.map(|r| r.1)),
    }
    assert_eq!(pending(&url).await, before, "no migration applied");

    // The server's start: a checked copy of the older database first, then the changes.
    let app = hms_web::start(config.clone())
        .await
        .expect("the new version starts");
    app.db.close().await;
    let made = upgrade_backups(&folder);
    assert_eq!(made.len(), 1, "one backup before the upgrade: {made:?}");
    assert_eq!(pending(&url).await, 0, "then every migration applied");
    let copy = folder.join(&made[0]);
    assert_eq!(
        pending(&format!("sqlite://{}", copy.display())).await,
        before,
        "the backup holds the database as the older version left it"
    );

    // Up to date: no further copies at later starts.
    let app = hms_web::start(config).await.expect("starts again");
    app.db.close().await;
    assert_eq!(upgrade_backups(&folder).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_waits_for_hms_backup_before_a_new_version_changes_it() {
    let Ok(admin_url) = std::env::var("HMS_TEST_POSTGRES_URL") else {
        eprintln!("skipped: HMS_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!(
        "hms_upgrade_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let server = admin_url.rsplit_once('/').unwrap().0.to_string();
    let url = format!("{server}/{name}");
    let admin = Db::connect(&admin_url).await.expect("admin connects");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.read())
        .await
        .expect("database created");

    let site = TempDir::new("hms-pg-upgrade");
    let config = Config {
        data_dir: site.path().join("data"),
        database_url: Some(url.clone()),
        ..Config::default()
    };
    older_database(&url).await;
    let before = pending(&url).await;
    let refused = match hms_web::start(config.clone()).await {
        Err(hms_core::app::StartError::Upgrade(e @ UpgradeError::NeedsBackup { .. })) => e,
        Err(e) => panic!("refused for want of a backup, not: {e}"),
        Ok(_) => panic!("a PostgreSQL database is not changed before it is backed up"),
    };
    assert!(refused.to_string().contains("hms backup"), "{refused}");
    assert_eq!(pending(&url).await, before, "nothing applied");

    // `hms backup FILE` runs pg_dump, checks the dump and records it: the upgrade goes ahead.
    let dump = site.path().join("before-upgrade.dump");
    let code = hms_web::cli::run_args(
        ["hms", "backup", dump.to_str().unwrap()],
        loaded(config.clone()),
    )
    .await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(
        std::fs::metadata(&dump).unwrap().len() > 0,
        "a dump was written"
    );
    let app = hms_web::start(config.clone())
        .await
        .expect("starts after hms backup");
    app.db.close().await;
    assert_eq!(pending(&url).await, 0);

    // Told to proceed (a site with its own base backups), a later upgrade needs no dump.
    let (db, done) = upgrade::open(&Config {
        upgrade_without_backup: true,
        ..config
    })
    .await
    .unwrap();
    db.close().await;
    assert_eq!(done, Upgrade::NotNeeded, "already up to date");

    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(admin.read())
    .await
    .expect("database dropped");
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_without_a_licence_key_is_a_development_build_that_never_pauses() {
    let clock = TestClock::at("2026-06-01T09:00:00+03:00");
    let in_app = clock.clone();
    let app = TestApp::start_custom(
        Backend::Sqlite,
        |_| {},
        move |p| {
            p.licence_key = None;
            p.clock = Some(std::sync::Arc::new(in_app));
        },
    )
    .await
    .unwrap();
    let admin = app.setup_admin().await;
    let home = admin.get("/").await;
    assert!(home.body.contains("Development build"), "{}", home.body);
    assert!(
        !home.body.contains("evaluation"),
        "no countdown: {}",
        home.body
    );
    let page = admin.get("/admin/licence").await;
    assert!(page.body.contains("Development build (no licence key)"));
    assert!(page.body.contains("nothing ever pauses"));
    assert!(!page.body.contains("days left"), "{}", page.body);
    assert!(
        !page.body.contains("type=\"file\""),
        "no licence to install"
    );

    // A year on: nothing has paused, and no banner speaks of expiry.
    clock.advance_days(400);
    app.add_user("reception", &["receptionist"]).await;
    let desk = app.login("reception").await;
    assert!(!desk.get("/").await.body.contains("licence-banner"));
    let home = admin.get("/").await;
    assert!(!home.body.contains("expired"), "{}", home.body);
    assert_eq!(admin.get("/admin/users/new").await.status, 200);
    admin.get("/admin/users").await;
    let add = admin
        .post_form(
            "/admin/users",
            &[
                ("username", "later"),
                ("full_name", "Later Hire"),
                ("roles", "nurse"),
                ("password", "kitale maize harvest"),
            ],
        )
        .await;
    assert_eq!(add.status, 303, "administrative work goes on: {}", add.body);
}
