//! The database: SQLite (embedded default) or PostgreSQL, chosen by URL, through one `AnyPool`
//! code path. On SQLite all writes go through a single writer connection and reads through a
//! reader pool, so writers queue in-process instead of sleeping in busy-timeout back-offs.
//!
//! A bound row limit is written `LIMIT CAST($n AS BIGINT)`, never with the bare `$n`: SQLite
//! (3.51) marks a statement whose LIMIT is a bare parameter to be compiled again whenever that
//! parameter is bound, so every execution paid a full parse and plan (12% of the server's time
//! in the live patient search). A test below keeps it that way.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::read_pool::ReadPool;

pub type Tx = Transaction<'static, Any>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(sqlx::Error),
    /// A value that must be unique is taken (an insert or update hit a unique constraint). On
    /// PostgreSQL `constraint` is the constraint's name; SQLite names no constraint, so it is
    /// the columns it lists (`patients.number`).
    #[error("unique value taken ({constraint})")]
    Unique { constraint: String },
    /// A guarded update matched no row: someone else moved the record first.
    #[error("the record was changed by someone else")]
    Conflict,
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("unsupported database URL (use sqlite://... or postgres://...)")]
    UnsupportedUrl,
    #[error("SQLite setting {name} is {actual}, expected {expected}")]
    Pragma {
        name: &'static str,
        actual: String,
        expected: &'static str,
    },
    #[error("migration {0} was changed after it was applied; restore the original file")]
    MigrationChanged(String),
    #[error("migration {0} left rows whose foreign keys point nowhere; nothing was applied")]
    MigrationBrokeForeignKeys(String),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        classify(e)
    }
}

/// Recognises a unique violation by the driver's error code (SQLite's extended codes 2067
/// `SQLITE_CONSTRAINT_UNIQUE` and 1555 `SQLITE_CONSTRAINT_PRIMARYKEY`, PostgreSQL's SQLSTATE
/// 23505), never by the message's wording.
pub fn classify(e: sqlx::Error) -> DbError {
    let sqlx::Error::Database(d) = &e else {
        return DbError::Sqlx(e);
    };
    let unique = matches!(d.code().as_deref(), Some("2067" | "1555" | "23505"));
    if !unique {
        return DbError::Sqlx(e);
    }
    let constraint = match d.constraint() {
        Some(name) => name.to_string(),
        // SQLite: "UNIQUE constraint failed: patients.number" names the columns.
        None => d
            .message()
            .rsplit_once(": ")
            .map(|(_, cols)| cols.to_string())
            .unwrap_or_default(),
    };
    DbError::Unique { constraint }
}

impl DbError {
    /// The constraint a unique violation hit, if this is one.
    pub fn unique_constraint(&self) -> Option<&str> {
        match self {
            DbError::Unique { constraint } => Some(constraint),
            _ => None,
        }
    }

    pub fn is_unique(&self) -> bool {
        matches!(self, DbError::Unique { .. })
    }
}

/// `($1, ..., $64)`: the fixed IN list of a page of ids, for `concat!` into a statement; bind
/// [`ID_LIST_LEN`] values, repeating one to fill the list.
#[macro_export]
macro_rules! id_list {
    () => {
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46, $47, $48, $49, $50, $51, $52, $53, $54, $55, $56, $57, $58, $59, $60, $61, $62, $63, $64)"
    };
}

/// How many ids [`id_list!`] takes.
pub const ID_LIST_LEN: usize = 64;

/// A guarded update's result: exactly one row changed, or [`DbError::Conflict`].
pub fn one_row(done: sqlx::any::AnyQueryResult) -> Result<(), DbError> {
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(DbError::Conflict)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }

    fn migrations_dir(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite/",
            Backend::Postgres => "postgres/",
        }
    }
}

/// The first line of a SQLite migration that rebuilds tables other tables refer to: it runs with
/// foreign key enforcement off (SQLite's documented way to rebuild such a table; the setting
/// cannot change inside a transaction) and is checked with `PRAGMA foreign_key_check` before
/// it commits.
const FOREIGN_KEYS_OFF: &str = "-- hms:foreign-keys-off";

#[derive(RustEmbed)]
#[folder = "../migrations/"]
struct Migrations;

/// SQLite settings applied to every connection and checked at start.
/// The page cache is 16 MB per connection instead of SQLite's 2 MB: a million patients' indexes
/// did not fit, and every miss is a `pread` (9% of the server's time in a search).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -16384;";

/// The writer copies the WAL back into the database file itself (a checkpoint, in the commit
/// that crossed the mark, holding the only write lock) only when the WAL holds 8,192 pages
/// (32 MB) instead of SQLite's 1,000: [`checkpoint_wal`] copies frames beside it as they come,
/// so that checkpoint has little left to copy, and then the WAL starts again from its beginning.
/// At a million patients the writer's own checkpoints had been about half of a registration's
/// commit time. A WAL file that grew past 64 MB is cut back to that when it starts again.
const SQLITE_WRITER_PRAGMAS: &str =
    "PRAGMA wal_autocheckpoint = 8192; PRAGMA journal_size_limit = 67108864;";

/// Readers map the database file into memory (its first 2 GB; beyond that pages are read as
/// before): a page is read where the kernel keeps it, not copied into each connection's own
/// cache first. The mapped pages are the kernel's file cache, shared and dropped under memory
/// pressure, though they count in the process's resident size.
const SQLITE_READER_PRAGMAS: &str = "PRAGMA mmap_size = 2147483648;";

/// How often the checkpointer looks for new WAL frames while writes are coming in, and while
/// none are (an idle laptop is not woken ten times a second).
const CHECKPOINT_BUSY: Duration = Duration::from_millis(100);
const CHECKPOINT_IDLE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct Db {
    pub backend: Backend,
    writer: AnyPool,
    reader: ReadPool,
    /// The database file on SQLite.
    sqlite_file: Option<PathBuf>,
    /// SQLite: the connection that checkpoints the WAL; its task stops when every clone of
    /// this `Db` is gone or [`Db::close`] is called.
    checkpoints: Option<(AnyPool, Arc<()>)>,
    /// The group writer's queue, started at the first [`Db::write`].
    group: Arc<OnceLock<crate::group_commit::Queue>>,
}

impl Db {
    /// Connects, creating the SQLite file (and its directory) when needed, then applies
    /// the pending migrations.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        let db = Self::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                if let Some(dir) = Path::new(&path).parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
                            path: dir.display().to_string(),
                            source,
                        })?;
                    }
                }
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let opts = AnyConnectOptions::from_str(&url)?;
                let writer = sqlite_pool(1, SQLITE_WRITER_PRAGMAS)
                    .connect_with(opts.clone())
                    .await?;
                let checkpointer = sqlite_pool(1, "").connect_with(opts.clone()).await?;
                let alive = Arc::new(());
                tokio::spawn(checkpoint_wal(checkpointer.clone(), Arc::downgrade(&alive)));
                let readers = std::thread::available_parallelism()
                    .map(|n| n.get() * 2)
                    .unwrap_or(4)
                    .max(4) as u32;
                let reader = ReadPool::kept(
                    sqlite_pool(readers, SQLITE_READER_PRAGMAS)
                        .connect_with(opts)
                        .await?,
                    readers as usize,
                );
                let db = Db {
                    backend,
                    writer,
                    reader,
                    sqlite_file: Some(PathBuf::from(path)),
                    checkpoints: Some((checkpointer, alive)),
                    group: Arc::default(),
                };
                db.verify_sqlite().await?;
                Ok(db)
            }
            Backend::Postgres => {
                let opts = AnyConnectOptions::from_str(url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|_conn, _meta| {
                        Box::pin(async {
                            tcp_sockets_without_delay();
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?;
                Ok(Db {
                    backend,
                    writer: pool.clone(),
                    reader: ReadPool::checked(pool),
                    sqlite_file: None,
                    checkpoints: None,
                    group: Arc::default(),
                })
            }
        }
    }

    /// Connections for queries that only read (a sqlx executor, see [`ReadPool`]).
    pub fn read(&self) -> &ReadPool {
        &self.reader
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`)
    /// so a read-then-write inside it cannot fail half-way with SQLITE_BUSY.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// Runs `work` in a write transaction shared with other writes queued at the same moment
    /// (group commit, see [`crate::group_commit`]) and returns its result once committed. `work`
    /// may run twice (again alone when another job of its group failed), so it must do nothing
    /// but database work in `tx`.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Tx) -> crate::group_commit::JobFuture<'c, T> + Send + 'static,
    {
        let queue = self.group.get_or_init(|| {
            crate::group_commit::start(Db {
                checkpoints: None,
                group: Arc::default(),
                ..self.clone()
            })
        });
        crate::group_commit::submit(queue, work).await
    }

    /// Commits made and writes committed through [`Db::write`] so far.
    pub fn write_stats(&self) -> (u64, u64) {
        self.group.get().map(|q| q.stats()).unwrap_or((0, 0))
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// The database file on SQLite (as given in the URL); `None` on PostgreSQL.
    pub fn sqlite_file(&self) -> Option<&Path> {
        self.sqlite_file.as_deref()
    }

    /// SQLite only: writes a consistent copy of the whole database to `path` with
    /// `VACUUM INTO`, which must not exist yet. It runs on a plain reader connection, outside
    /// any transaction (VACUUM cannot run inside one); in WAL mode writers carry on meanwhile.
    pub async fn vacuum_into(&self, path: &Path) -> Result<(), DbError> {
        if self.backend != Backend::Sqlite {
            return Err(DbError::Sqlx(sqlx::Error::Configuration(
                "VACUUM INTO is only for SQLite".into(),
            )));
        }
        let path = path.to_str().ok_or_else(|| {
            DbError::Sqlx(sqlx::Error::Configuration(
                "the backup file name must be valid UTF-8".into(),
            ))
        })?;
        let mut conn = self.reader.acquire().await?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
        if let Some((pool, _)) = &self.checkpoints {
            pool.close().await;
        }
    }

    async fn verify_sqlite(&self) -> Result<(), DbError> {
        let mut writer = self.writer.acquire().await?;
        let mut reader = self.reader.acquire().await?;
        for conn in [&mut *writer, &mut *reader] {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await?;
            expect("journal_mode", mode.to_lowercase(), "wal")?;
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await?;
            expect("synchronous", sync.to_string(), "2")?;
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut *conn)
                .await?;
            expect("foreign_keys", fk.to_string(), "1")?;
            let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(&mut *conn)
                .await?;
            expect("busy_timeout", busy.to_string(), "5000")?;
        }
        Ok(())
    }

    /// Which of this build's migrations the database has not had yet, and when the last one
    /// it had was applied; an empty database (no migration applied) is `fresh`.
    pub async fn migration_state(&self) -> Result<MigrationState, DbError> {
        let exists = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_name = 'schema_migrations' AND table_schema = current_schema()"
            }
        };
        let tables: i64 = sqlx::query(exists).fetch_one(&self.writer).await?.get(0);
        let applied: Vec<(String, String)> = if tables == 0 {
            Vec::new()
        } else {
            sqlx::query("SELECT version, applied_at FROM schema_migrations")
                .fetch_all(&self.writer)
                .await?
                .into_iter()
                .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
                .collect()
        };
        let pending = migrations(self.backend)
            .into_iter()
            .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
            .map(|m| m.name)
            .collect();
        Ok(MigrationState {
            fresh: applied.is_empty(),
            pending,
            last_applied_at: applied.into_iter().map(|(_, at)| at).max(),
        })
    }

    /// Applies pending migrations of this backend's stream, each in its own transaction.
    /// A migration already applied whose file changed is an error, never silently re-run.
    pub async fn migrate(&self) -> Result<usize, DbError> {
        self.migrate_until(None).await
    }

    /// Applies pending migrations up to and including version `last` (all when `None`): tests
    /// stop at a version to put rows in before the next migration runs.
    pub async fn migrate_until(&self, last: Option<&str>) -> Result<usize, DbError> {
        let mut conn = self.writer.acquire().await?;
        if self.backend == Backend::Postgres {
            // Several app servers may start at once: one migrates, the others wait.
            sqlx::query("SELECT pg_advisory_lock(7301001)")
                .execute(&mut *conn)
                .await?;
        }
        let result = self.migrate_on(&mut conn, last).await;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7301001)")
                .execute(&mut *conn)
                .await?;
        }
        result
    }

    async fn migrate_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        last: Option<&str>,
    ) -> Result<usize, DbError> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at TEXT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        let applied: Vec<(String, String)> =
            sqlx::query("SELECT version, checksum FROM schema_migrations")
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
                .collect();
        let mut count = 0;
        for m in migrations(self.backend) {
            if last.is_some_and(|last| m.version.as_str() > last) {
                break;
            }
            match applied.iter().find(|(v, _)| *v == m.version) {
                Some((_, sum)) if *sum == m.checksum => continue,
                Some(_) => return Err(DbError::MigrationChanged(m.name)),
                None => {}
            }
            let keys_off = self.backend == Backend::Sqlite && m.sql.starts_with(FOREIGN_KEYS_OFF);
            if keys_off {
                sqlx::raw_sql("PRAGMA foreign_keys = OFF")
                    .execute(&mut *conn)
                    .await?;
            }
            let result = Self::apply(conn, &m, keys_off).await;
            if keys_off {
                sqlx::raw_sql("PRAGMA foreign_keys = ON")
                    .execute(&mut *conn)
                    .await?;
            }
            result?;
            tracing::info!(migration = %m.name, "applied migration");
            count += 1;
        }
        Ok(count)
    }

    /// One migration and its row in `schema_migrations`, in one transaction. With foreign key
    /// enforcement off (a SQLite table rebuild), every foreign key is checked before commit.
    async fn apply(
        conn: &mut sqlx::AnyConnection,
        m: &Migration,
        keys_off: bool,
    ) -> Result<(), DbError> {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql.clone()))
            .execute(&mut *tx)
            .await?;
        if keys_off {
            let broken = sqlx::query("SELECT COUNT(*) FROM pragma_foreign_key_check")
                .fetch_one(&mut *tx)
                .await?
                .get::<i64, _>(0);
            if broken > 0 {
                return Err(DbError::MigrationBrokeForeignKeys(m.name.clone()));
            }
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&m.version)
        .bind(&m.name)
        .bind(&m.checksum)
        .bind(crate::clock::now_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// How the bound parameters of a statement built for many rows are written: numbered (`$1`,
/// PostgreSQL) or anonymous (`?`, SQLite, where sqlx looks a numbered parameter's name up with a
/// linear scan per bind, so a statement of thousands of numbered parameters spends most of its
/// time finding them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    Numbered,
    Anonymous,
}

impl Placeholders {
    /// The kind the connection's database wants.
    pub fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Placeholders::Numbered
        } else {
            Placeholders::Anonymous
        }
    }
}

/// `head` followed by `rows` groups of `width` parameters, then `tail`: the only SQL built at
/// run time, the fixed shape of a VALUES list (`($1, $2, ...), (...)`) for a constant column
/// list; values are always bound.
pub fn values_sql(p: Placeholders, head: &str, width: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * width * 7);
    sql.push_str(head);
    let mut n = 1;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            match p {
                Placeholders::Numbered => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                Placeholders::Anonymous => sql.push('?'),
            }
            n += 1;
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// A multi-row statement for `rows` rows made by `build`: the one for a full chunk (`full`
/// rows) is built once per kind of placeholder and kept in `cells`, so each connection prepares
/// it once and reuses it; a shorter last chunk gets its own.
pub fn values_statement(
    cells: &'static [OnceLock<Arc<str>>; 2],
    p: Placeholders,
    full: usize,
    rows: usize,
    build: fn(Placeholders, usize) -> String,
) -> sqlx::AssertSqlSafe<Arc<str>> {
    if rows == full {
        let cell = &cells[usize::from(p == Placeholders::Anonymous)];
        sqlx::AssertSqlSafe(cell.get_or_init(|| build(p, full).into()).clone())
    } else {
        sqlx::AssertSqlSafe(build(p, rows).into())
    }
}

/// Where a database stands against this build's migrations (see [`Db::migration_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// No migration applied yet: a new database, nothing to lose.
    pub fresh: bool,
    /// Names of the migrations still to apply, in order.
    pub pending: Vec<String>,
    /// When the most recent migration was applied (RFC 3339).
    pub last_applied_at: Option<String>,
}

/// One migration file of a backend's stream.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: String,
    pub name: String,
    pub sql: String,
    pub checksum: String,
}

/// The embedded migrations of a backend, in order.
pub fn migrations(backend: Backend) -> Vec<Migration> {
    let dir = backend.migrations_dir();
    let mut names: Vec<String> = Migrations::iter()
        .filter(|n| n.starts_with(dir) && n.ends_with(".sql"))
        .map(|n| n.to_string())
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|path| {
            let file = Migrations::get(&path)?;
            let sql = String::from_utf8_lossy(&file.data).into_owned();
            let name = path
                .trim_start_matches(dir)
                .trim_end_matches(".sql")
                .to_string();
            let version = name.split('_').next().unwrap_or(&name).to_string();
            let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
            Some(Migration {
                version,
                name,
                sql,
                checksum,
            })
        })
        .collect()
}

/// Copies committed WAL frames into the database file (`PRAGMA wal_checkpoint(PASSIVE)`, which
/// never waits for the writer or readers), every [`CHECKPOINT_BUSY`] while frames keep coming
/// and every [`CHECKPOINT_IDLE`] otherwise. Durability does not depend on it: every commit is in
/// the WAL, fsynced, before it returns; this only keeps the writer's own checkpoints short.
async fn checkpoint_wal(pool: AnyPool, alive: std::sync::Weak<()>) {
    let mut pause = CHECKPOINT_IDLE;
    let mut last_frames = -1;
    loop {
        tokio::time::sleep(pause).await;
        if alive.strong_count() == 0 || pool.is_closed() {
            break;
        }
        let result = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
            // (busy, frames in the WAL, frames copied back)
            .and_then(|row| row.try_get::<i64, _>(1));
        match result {
            Ok(frames) => {
                pause = if frames != last_frames {
                    CHECKPOINT_BUSY
                } else {
                    CHECKPOINT_IDLE
                };
                last_frames = frames;
            }
            Err(_) if pool.is_closed() => break,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                pause = CHECKPOINT_IDLE;
            }
        }
    }
    pool.close().await;
}

/// Turns Nagle's algorithm off on this process's TCP sockets, after each new PostgreSQL
/// connection. sqlx 0.9.0 leaves it on (sqlx issue 4335; 0.8 turned it off, and the fix is
/// upstream for the release after 0.9.0, when this goes): a statement whose values outgrow the
/// socket's send buffer (16 KB at first) is sent in two parts, and the second waits about 40 ms
/// for the server's delayed acknowledgement. A 100-row insert of read-audit rows waited on every
/// statement (0.9 s for 2,000 rows instead of 30 ms). sqlx gives no access to its socket, so
/// every socket of the process is set: harmless on the others (the web server's connections
/// want it too), refused without effect on those that are not TCP.
fn tcp_sockets_without_delay() {
    #[cfg(target_os = "linux")]
    for fd in socket_descriptors() {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt only reads `on`, whose size is given; on a descriptor that is not
        // a TCP socket (or was closed meanwhile) it fails and changes nothing.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

/// The descriptors of this process that are sockets, as they are at the moment of the call.
#[cfg(target_os = "linux")]
pub fn socket_descriptors() -> Vec<libc::c_int> {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    fds.flatten()
        .filter(|entry| {
            std::fs::read_link(entry.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

/// A pool of SQLite connections with [`SQLITE_PRAGMAS`] and then `extra` applied to each.
fn sqlite_pool(size: u32, extra: &'static str) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(0)
        // A connection to a file in this process does not go stale: no ping (a round trip to
        // the connection's thread) before every statement or transaction.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                sqlx::raw_sql(SQLITE_PRAGMAS).execute(&mut *conn).await?;
                if !extra.is_empty() {
                    sqlx::raw_sql(extra).execute(conn).await?;
                }
                Ok(())
            })
        })
}

/// The file path of a `sqlite://path?options` URL.
pub fn sqlite_path(url: &str) -> String {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    rest.split('?').next().unwrap_or(rest).to_string()
}

fn expect(name: &'static str, actual: String, expected: &'static str) -> Result<(), DbError> {
    if actual == expected {
        Ok(())
    } else {
        Err(DbError::Pragma {
            name,
            actual,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lists_number_their_parameters_in_order() {
        assert_eq!(
            values_sql(
                Placeholders::Numbered,
                "INSERT INTO t (a, b) VALUES ",
                2,
                3,
                " RETURNING a"
            ),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6) RETURNING a"
        );
        assert_eq!(
            values_sql(
                Placeholders::Anonymous,
                "INSERT INTO t (a) VALUES ",
                1,
                2,
                ""
            ),
            "INSERT INTO t (a) VALUES (?), (?)"
        );
    }

    #[test]
    fn both_streams_have_the_same_migration_versions() {
        let names = |b| {
            migrations(b)
                .into_iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
        };
        let sqlite = names(Backend::Sqlite);
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names(Backend::Postgres));
    }

    /// Every `.rs` file of the workspace, for the checks of the SQL they hold.
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() && name != "target" && !name.to_string_lossy().starts_with('.') {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_statement_has_a_bare_parameter_as_its_limit() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        sources(&root, &mut files);
        assert!(files.len() > 20, "the workspace's sources are found");
        let bare = ["LIMIT $", "LIMIT ?"];
        let mut found = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for (i, line) in text.lines().enumerate() {
                if bare.iter().any(|b| line.contains(b)) && !line.contains("bare = [") {
                    found.push(format!("{}:{}", file.display(), i + 1));
                }
            }
        }
        assert!(
            found.is_empty(),
            "write LIMIT CAST($n AS BIGINT): SQLite recompiles a statement with a bare \
             parameter as its limit on every run: {found:?}"
        );
    }

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(
            sqlite_path("sqlite://./hms-data/hms.db"),
            "./hms-data/hms.db"
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/hms/hms.db?mode=rwc"),
            "/var/lib/hms/hms.db"
        );
    }
}
