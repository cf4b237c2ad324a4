//! The connections that only read, lent for one statement (or a few) at a time.
//!
//! On SQLite they are taken once from sqlx's pool and kept: sqlx checks a connection it gets
//! back with a ping, a round trip to the connection's own thread that doubled the cost of a
//! page's every query (the query is one round trip, the ping another). A connection to a file
//! in this process does not go stale, and one given back in the middle of a statement (a
//! dropped request) finishes or resets it before it runs the next, in order, on its thread;
//! so it goes straight back to the shelf. On PostgreSQL the server may restart or drop a
//! connection, and sqlx's check is kept: the pool is used as it is.
//!
//! [`ReadPool`] is a sqlx executor (`query.fetch_all(db.read())`), like the pool it wraps.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::any::{Any, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{AnyConnection, AnyPool, Either, Execute, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;

/// How long a request waits for a free connection before it fails (as sqlx's pool does).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct ReadPool {
    pool: AnyPool,
    /// SQLite: the connections kept out of sqlx's pool, and one permit per connection.
    kept: Option<Arc<Kept>>,
}

#[derive(Debug)]
struct Kept {
    idle: Mutex<Vec<PoolConnection<Any>>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    /// Lends connections of `pool` as sqlx does (PostgreSQL).
    pub(crate) fn checked(pool: AnyPool) -> Self {
        Self { pool, kept: None }
    }

    /// Keeps up to `size` connections of `pool`, the pool's own size (SQLite).
    pub(crate) fn kept(pool: AnyPool, size: usize) -> Self {
        Self {
            pool,
            kept: Some(Arc::new(Kept {
                idle: Mutex::new(Vec::with_capacity(size)),
                permits: Arc::new(Semaphore::new(size)),
            })),
        }
    }

    /// A connection for several statements in a row; it goes back when dropped.
    pub async fn acquire(&self) -> Result<Lent, sqlx::Error> {
        let Some(kept) = &self.kept else {
            return Ok(Lent {
                conn: Some(self.pool.acquire().await?),
                back: None,
                broken: false,
            });
        };
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, kept.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = kept.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            // A permit with no connection on the shelf: this one has not been opened yet.
            None => self.pool.acquire().await?,
        };
        Ok(Lent {
            conn: Some(conn),
            back: Some((kept.clone(), permit)),
            broken: false,
        })
    }

    /// Closes every connection: those on the shelf now, those lent when they come back.
    pub async fn close(&self) {
        if let Some(kept) = &self.kept {
            kept.permits.close();
            let idle: Vec<_> =
                std::mem::take(&mut *kept.idle.lock().unwrap_or_else(|e| e.into_inner()));
            for conn in idle {
                let _ = conn.close().await;
            }
        }
        self.pool.close().await;
    }
}

/// A lent connection: dereferences to the connection, goes back when dropped.
pub struct Lent {
    conn: Option<PoolConnection<Any>>,
    back: Option<(Arc<Kept>, OwnedSemaphorePermit)>,
    broken: bool,
}

impl Deref for Lent {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.conn.as_ref().expect("a lent connection until dropped")
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("a lent connection until dropped")
    }
}

impl Lent {
    /// After an error that leaves the connection unusable (its thread gone, the file
    /// unreadable), it is closed instead of going back on the shelf; the next borrower
    /// opens a new one.
    fn check(&mut self, e: &sqlx::Error) {
        if matches!(e, sqlx::Error::WorkerCrashed | sqlx::Error::Io(_)) {
            if let Some(conn) = self.conn.as_mut() {
                conn.close_on_drop();
            }
            tracing::warn!(error = %e, "a reader connection failed; it is replaced");
            self.broken = true;
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let (Some(conn), Some((kept, permit))) = (self.conn.take(), self.back.take()) {
            if kept.permits.is_closed() || self.broken {
                // Closing, or unusable: sqlx's pool closes it.
                drop(conn);
            } else {
                kept.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
            }
            drop(permit);
        }
    }
}

impl<'p> Executor<'p> for &'_ ReadPool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        if self.kept.is_none() {
            return self.pool.fetch_many(query);
        }
        let this = self.clone();
        Box::pin(sqlx_core::try_stream! {
            let mut conn = this.acquire().await?;
            let failed = {
                let mut rows = conn.fetch_many(query);
                loop {
                    match rows.try_next().await {
                        Ok(Some(v)) => r#yield!(v),
                        Ok(None) => break None,
                        Err(e) => break Some(e),
                    }
                }
            };
            if let Some(e) = failed {
                conn.check(&e);
                return Err(e);
            }
            Ok(())
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        let this = self.clone();
        Box::pin(async move {
            let mut conn = this.acquire().await?;
            let row = conn.fetch_optional(query).await;
            if let Err(e) = &row {
                conn.check(e);
            }
            row
        })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        let this = self.clone();
        Box::pin(async move {
            let mut conn = this.acquire().await?;
            let statement = conn.prepare_with(sql, parameters).await;
            if let Err(e) = &statement {
                conn.check(e);
            }
            statement
        })
    }
}
