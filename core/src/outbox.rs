//! The email outbox. Code that wants to send an email calls [`enqueue`] inside its own
//! transaction, so the message exists exactly when the change that caused it was committed. A
//! background [`Sender`] delivers queued messages over SMTP (lettre), retrying with exponential
//! backoff while the server is unreachable; nothing is lost meanwhile. Several app servers may
//! run senders against one PostgreSQL database: a sender claims a message with a guarded update
//! checked for one row, so each message is sent by exactly one of them. A sender that died
//! mid-send leaves its claim behind; after `stale_after` another sender takes the message over
//! (the only case in which a message could go out twice).
//!
//! Statuses: `queued` (waiting for its `next_attempt_at`), `sending` (claimed), `sent`,
//! `failed` (permanent refusal, bad address, or `max_attempts` used up; "retry now" on the
//! admin screen queues it again). Times are epoch milliseconds.
//!
//! Each message has a `channel` ([`CHANNELS`]): the SMTP [`Sender`] only takes `email` rows, so
//! messages on another channel (`sms`) wait for the sender of that channel, once there is one.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use sqlx::Row;

use crate::db::{Db, DbError, Tx};

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("'{0}' is not an email address")]
    BadAddress(String),
    #[error("SMTP server URL: {0}")]
    SmtpUrl(String),
    #[error("'{0}' is not an outbox channel")]
    UnknownChannel(String),
}

impl From<sqlx::Error> for OutboxError {
    fn from(e: sqlx::Error) -> Self {
        OutboxError::Db(DbError::Sqlx(e))
    }
}

/// Whether `text` is an address the sender can deliver to.
pub fn valid_address(text: &str) -> bool {
    text.trim().parse::<Address>().is_ok()
}

/// The email channel, the one the SMTP [`Sender`] delivers.
pub const EMAIL: &str = "email";
/// Text messages: queued rows wait until an SMS gateway sender exists.
pub const SMS: &str = "sms";
/// The channels a message can be queued on.
pub const CHANNELS: &[&str] = &[EMAIL, SMS];

/// Queues an email inside the caller's transaction; returns its id. It is sent after COMMIT,
/// and never if the transaction rolls back.
pub async fn enqueue(tx: &mut Tx, to: &str, subject: &str, body: &str) -> Result<i64, OutboxError> {
    enqueue_on(tx, EMAIL, to, subject, body).await
}

/// Queues a message on `channel` ([`CHANNELS`]) inside the caller's transaction, like
/// [`enqueue`]. Email addresses are checked here; other channels' addresses by their sender.
pub async fn enqueue_on(
    tx: &mut Tx,
    channel: &str,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<i64, OutboxError> {
    let Some(channel) = CHANNELS.iter().find(|c| **c == channel) else {
        return Err(OutboxError::UnknownChannel(channel.to_string()));
    };
    let to = to.trim();
    if *channel == EMAIL && !valid_address(to) {
        return Err(OutboxError::BadAddress(to.to_string()));
    }
    let now = crate::clock::now_ms();
    let id: i64 = sqlx::query(
        "INSERT INTO outbox (to_address, subject, body_text, status, attempts, next_attempt_at, \
         created_at, channel) VALUES ($1, $2, $3, 'queued', 0, $4, $4, $5) RETURNING id",
    )
    .bind(to)
    .bind(subject)
    .bind(body)
    .bind(now)
    .bind(*channel)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(id)
}

/// A message as the admin screen shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub channel: String,
    pub to_address: String,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub next_attempt: String,
    pub last_error: Option<String>,
    pub created: String,
}

/// Messages not yet sent (queued, being sent, failed), newest first.
pub async fn unsent(db: &Db, limit: i64) -> Result<Vec<Entry>, DbError> {
    let rows = sqlx::query(
        "SELECT id, to_address, subject, status, attempts, next_attempt_at, last_error, \
         created_at, channel FROM outbox WHERE status IN ('queued', 'sending', 'failed') \
         ORDER BY id DESC LIMIT CAST($1 AS BIGINT)",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let next: i64 = r.get(5);
            Entry {
                id: r.get(0),
                channel: r.get(8),
                to_address: r.get(1),
                subject: r.get(2),
                status: r.get(3),
                attempts: r.get(4),
                next_attempt_at: next,
                next_attempt: crate::clock::display_ms(next),
                last_error: r.get(6),
                created: crate::clock::display_ms(r.get(7)),
            }
        })
        .collect())
}

/// One message's status and attempts (tests, diagnostics).
pub async fn status(db: &Db, id: i64) -> Result<Option<(String, i64, Option<String>)>, DbError> {
    Ok(
        sqlx::query("SELECT status, attempts, last_error FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(db.read())
            .await?
            .map(|r| (r.get(0), r.get(1), r.get(2))),
    )
}

/// Queues a failed message again at once with a fresh set of attempts. False when the message
/// does not exist or has not failed.
pub async fn retry_now(tx: &mut Tx, id: i64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = $1, \
         claimed_by = NULL, claimed_at = NULL WHERE id = $2 AND status = 'failed'",
    )
    .bind(crate::clock::now_ms())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How a sender behaves; `Default` is for production.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// Wait after the first failed attempt; doubled after each further one.
    pub backoff_base: Duration,
    /// Longest wait between attempts.
    pub backoff_cap: Duration,
    /// Attempts before a message is marked failed.
    pub max_attempts: i64,
    /// How often the outbox is looked at.
    pub poll_every: Duration,
    /// A claim older than this is taken over (its sender died mid-send).
    pub stale_after: Duration,
    /// Messages claimed per round.
    pub batch: i64,
    /// SMTP connection and command timeout.
    pub smtp_timeout: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(3600),
            max_attempts: 10,
            poll_every: Duration::from_secs(5),
            stale_after: Duration::from_secs(600),
            batch: 20,
            smtp_timeout: Duration::from_secs(30),
        }
    }
}

impl SenderOptions {
    /// Production settings with another backoff base (tests use milliseconds).
    pub fn with_backoff(backoff_base: Duration) -> Self {
        Self {
            backoff_base,
            ..Self::default()
        }
    }

    /// The wait after the `attempts`-th failed attempt: base · 2^(attempts-1), capped.
    pub fn backoff(&self, attempts: i64) -> Duration {
        let shift = attempts.saturating_sub(1).clamp(0, 30) as u32;
        self.backoff_base
            .saturating_mul(1u32 << shift)
            .min(self.backoff_cap)
    }
}

/// Delivers queued messages. Cheap to share; run it with [`Sender::spawn`] or drive it with
/// [`Sender::run_once`].
pub struct Sender {
    db: Db,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    options: SenderOptions,
    id: String,
}

enum Outcome {
    Sent,
    Retry(String),
    Permanent(String),
}

fn short(text: String) -> String {
    if text.chars().count() > 500 {
        text.chars().take(500).collect()
    } else {
        text
    }
}

impl Sender {
    /// A sender for the SMTP server at `smtp_url`: `smtp://host:port` (plain, for a relay on
    /// the same machine or tests), `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtps://host:465` (TLS), with `user:password@` when the server needs a login.
    pub fn new(db: Db, smtp_url: &str, options: SenderOptions) -> Result<Self, OutboxError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| OutboxError::SmtpUrl(e.to_string()))?
            .timeout(Some(options.smtp_timeout))
            .build();
        let mut nonce = [0u8; 4];
        rand::fill(&mut nonce);
        let id = format!("{}-{}", std::process::id(), hex::encode(nonce));
        Ok(Self {
            db,
            transport,
            options,
            id,
        })
    }

    /// This sender's name in `claimed_by`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends every email that is due now; returns how many were attempted. Without a
    /// from-address (setting `mail_from`) nothing is sent and messages stay queued. Messages on
    /// other channels are left alone.
    pub async fn run_once(&self) -> Result<usize, OutboxError> {
        let Some(from) = crate::settings::get(&self.db, "mail_from")
            .await?
            .filter(|f| !f.trim().is_empty())
        else {
            tracing::debug!("outbox: no from-address (mail_from) set; messages stay queued");
            return Ok(0);
        };
        let facility = crate::settings::get(&self.db, "facility_name").await?;
        let from = match from.trim().parse::<Address>() {
            Ok(a) => Mailbox::new(facility.filter(|f| !f.trim().is_empty()), a),
            Err(_) => {
                tracing::warn!("outbox: the from-address (mail_from) is not an email address");
                return Ok(0);
            }
        };
        let now = crate::clock::now_ms();
        let stale = now - self.options.stale_after.as_millis() as i64;
        let ids: Vec<i64> = sqlx::query(
            "SELECT id FROM outbox WHERE channel = 'email' AND \
             ((status = 'queued' AND next_attempt_at <= $1) \
              OR (status = 'sending' AND claimed_at < $2)) ORDER BY next_attempt_at, id \
             LIMIT CAST($3 AS BIGINT)",
        )
        .bind(now)
        .bind(stale)
        .bind(self.options.batch)
        .fetch_all(self.db.read())
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
        let mut attempted = 0;
        for id in ids {
            if !self.claim(id).await? {
                continue;
            }
            attempted += 1;
            let row = sqlx::query(
                "SELECT to_address, subject, body_text, attempts FROM outbox WHERE id = $1",
            )
            .bind(id)
            .fetch_one(self.db.read())
            .await?;
            let (to, subject, body, attempts): (String, String, String, i64) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let outcome = self.deliver(&from, &to, &subject, body).await;
            self.settle(id, attempts, outcome).await?;
        }
        Ok(attempted)
    }

    /// Takes a message for this sender: a guarded update that only one sender can win.
    async fn claim(&self, id: i64) -> Result<bool, OutboxError> {
        let now = crate::clock::now_ms();
        let stale = now - self.options.stale_after.as_millis() as i64;
        let mut tx = self.db.begin().await?;
        let done = sqlx::query(
            "UPDATE outbox SET status = 'sending', claimed_by = $1, claimed_at = $2, \
             attempts = attempts + 1 WHERE id = $3 AND channel = 'email' AND \
             ((status = 'queued' AND next_attempt_at <= $2) OR \
              (status = 'sending' AND claimed_at < $4))",
        )
        .bind(&self.id)
        .bind(now)
        .bind(id)
        .bind(stale)
        .execute(&mut *tx)
        .await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(done.rows_affected() == 1)
    }

    async fn deliver(&self, from: &Mailbox, to: &str, subject: &str, body: String) -> Outcome {
        let to: Mailbox = match to.parse::<Address>() {
            Ok(a) => Mailbox::new(None, a),
            Err(e) => return Outcome::Permanent(format!("bad recipient address: {e}")),
        };
        let message = match Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
        {
            Ok(m) => m,
            Err(e) => return Outcome::Permanent(format!("cannot build the message: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Permanent(e.to_string()),
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }

    /// Records the result of an attempt (only while this sender still holds the claim).
    async fn settle(&self, id: i64, attempts: i64, outcome: Outcome) -> Result<(), OutboxError> {
        let now = crate::clock::now_ms();
        let mut tx = self.db.begin().await?;
        match outcome {
            Outcome::Sent => {
                sqlx::query(
                    "UPDATE outbox SET status = 'sent', sent_at = $3, last_error = NULL \
                     WHERE id = $1 AND status = 'sending' AND claimed_by = $2",
                )
                .bind(id)
                .bind(&self.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tracing::info!(id, "outbox: message sent");
            }
            Outcome::Retry(error) if attempts < self.options.max_attempts => {
                let next = now + self.options.backoff(attempts).as_millis() as i64;
                sqlx::query(
                    "UPDATE outbox SET status = 'queued', next_attempt_at = $3, last_error = $4 \
                     WHERE id = $1 AND status = 'sending' AND claimed_by = $2",
                )
                .bind(id)
                .bind(&self.id)
                .bind(next)
                .bind(short(error.clone()))
                .execute(&mut *tx)
                .await?;
                tracing::warn!(id, attempts, error = %error, "outbox: sending failed; will retry");
            }
            Outcome::Retry(error) | Outcome::Permanent(error) => {
                sqlx::query(
                    "UPDATE outbox SET status = 'failed', last_error = $3 \
                     WHERE id = $1 AND status = 'sending' AND claimed_by = $2",
                )
                .bind(id)
                .bind(&self.id)
                .bind(short(error.clone()))
                .execute(&mut *tx)
                .await?;
                tracing::error!(id, attempts, error = %error, "outbox: message failed");
            }
        }
        tx.commit().await.map_err(DbError::from)?;
        Ok(())
    }

    /// Runs the sender in the background until stopped.
    pub fn spawn(self) -> SenderTask {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                if *stopped.borrow() {
                    return;
                }
                match self.run_once().await {
                    // A full batch: more may be due, go on at once.
                    Ok(n) if n as i64 >= self.options.batch => continue,
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "outbox: the sender's round failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.options.poll_every) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        SenderTask { stop, task }
    }
}

/// A running sender.
pub struct SenderTask {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SenderTask {
    /// Stops the sender; a message being sent is finished first (waiting at most `wait`; a
    /// message cut off is taken over by a sender later, once its claim is stale).
    pub async fn stop(self, wait: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(wait, &mut task).await.is_err() {
            tracing::warn!("outbox: the sender did not stop in time; stopping it");
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let o = SenderOptions::default();
        assert_eq!(o.backoff(1), Duration::from_secs(30));
        assert_eq!(o.backoff(2), Duration::from_secs(60));
        assert_eq!(o.backoff(4), Duration::from_secs(240));
        assert_eq!(o.backoff(9), Duration::from_secs(3600));
        assert_eq!(o.backoff(1000), Duration::from_secs(3600));
    }

    #[test]
    fn addresses_are_checked() {
        assert!(valid_address("records@mwangaza.co.ke"));
        assert!(!valid_address("not an address"));
        assert!(!valid_address(""));
    }
}
