//! The server's open connections, bounded. A socket that sends half a request header, or sits
//! open after its last answer, holds a file descriptor; with enough of them the process runs
//! out (a service's default limit is often 1,024) and the database, the audit head file and the
//! backups fail with "Too many open files". So every accepted socket is tracked:
//! - a request's header must arrive within `header_timeout_seconds` of its first byte (and a new
//!   connection must start one within that time);
//! - a connection idle between requests is closed after `keepalive_timeout_seconds`;
//! - at `max_connections` the connection that has waited longest for a header, or sat idle
//!   longest, is closed to make room; a request being answered is never cut.
//!
//! poem's server gives no hook for this (nor hyper's header timer), so the acceptor hands poem a
//! stream that watches its own bytes: the end of a header (`\r\n\r\n`) marks a request in
//! progress, and a read that waits after the answer was written marks the connection idle.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// Descriptors kept for everything but client connections (database connections and their
/// files, the audit head, backups, logs), at most half the limit.
const RESERVED_DESCRIPTORS: u64 = 256;
/// The most connections the server takes when `max_connections` is not set: each costs
/// buffers, and a facility's browsers need far fewer.
const AUTO_MAX_CONNECTIONS: u64 = 10_000;

/// The process's limit on open files, as found and as raised at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit before `raise_open_files_limit`.
    pub before: u64,
    /// The soft limit in force.
    pub soft: u64,
    /// The hard limit (the most an unprivileged process may raise its soft limit to).
    pub hard: u64,
}

/// The process's limit on open files, raised at the first call (`hms` calls it at start) to the
/// hard limit where the system allows it: the default soft limit (often 1,024) is far below
/// what a busy server needs, and the hard limit is what the administrator allowed.
pub fn open_files() -> OpenFiles {
    static FOUND: std::sync::OnceLock<OpenFiles> = std::sync::OnceLock::new();
    *FOUND.get_or_init(raise_open_files_limit)
}

#[cfg(unix)]
fn raise_open_files_limit() -> OpenFiles {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return OpenFiles {
                before: 1024,
                soft: 1024,
                hard: 1024,
            };
        }
        let before = lim.rlim_cur as u64;
        // Linux refuses more than fs.nr_open (1,048,576 by default) even when the hard limit is
        // "unlimited".
        let target = if lim.rlim_max == libc::RLIM_INFINITY {
            1 << 20
        } else {
            lim.rlim_max
        };
        if lim.rlim_cur != libc::RLIM_INFINITY && lim.rlim_cur < target {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = target;
            }
        }
        let soft = if lim.rlim_cur == libc::RLIM_INFINITY {
            u64::MAX
        } else {
            lim.rlim_cur as u64
        };
        let hard = if lim.rlim_max == libc::RLIM_INFINITY {
            u64::MAX
        } else {
            lim.rlim_max as u64
        };
        OpenFiles { before, soft, hard }
    }
}

#[cfg(not(unix))]
fn raise_open_files_limit() -> OpenFiles {
    OpenFiles {
        before: 8192,
        soft: 8192,
        hard: 8192,
    }
}

/// How many client connections the server keeps open at most: `configured` (0: automatic),
/// never more than the open-files limit allows after the reserve for the database and files.
pub fn max_connections(configured: u64, soft_limit: u64) -> usize {
    let reserve = RESERVED_DESCRIPTORS.min(soft_limit / 2);
    let room = soft_limit.saturating_sub(reserve).max(1);
    let cap = if configured == 0 {
        room.min(AUTO_MAX_CONNECTIONS)
    } else {
        configured.min(room)
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// The limits one server applies to its connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(config: &hms_core::config::Config) -> Self {
        Limits {
            header_timeout: Duration::from_secs(config.header_timeout_seconds),
            keepalive_timeout: Duration::from_secs(config.keepalive_timeout_seconds),
            max_connections: max_connections(config.max_connections, open_files().soft),
        }
    }
}

/// Where a connection is in its current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted, no byte yet: the header timeout runs.
    New,
    /// Between requests: the keep-alive timeout runs.
    Idle,
    /// Part of a header has arrived: the header timeout runs.
    Header,
    /// A whole header arrived; the request is being read or answered: no timeout here.
    Busy,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// When the phase began.
    since: Instant,
    /// Told to close (timed out or evicted); the next read fails.
    closing: bool,
    /// The task waiting to read, woken to close an idle connection.
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Conn {
    state: Mutex<State>,
}

impl Conn {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every open connection of one server.
#[derive(Debug, Default)]
struct Table {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections not already told to close.
    fn live(&self) -> usize {
        self.lock().values().filter(|c| !c.lock().closing).count()
    }

    /// Closes the connection that has waited longest for a header or sat idle longest.
    /// False when every connection is answering a request.
    fn evict_oldest_waiting(&self) -> bool {
        let conns = self.lock();
        let oldest = conns
            .values()
            .filter_map(|c| {
                let s = c.lock();
                (!s.closing && s.phase != Phase::Busy).then(|| (s.since, c.clone()))
            })
            .min_by_key(|(since, _)| *since);
        drop(conns);
        match oldest {
            Some((_, conn)) => {
                let waker = {
                    let mut s = conn.lock();
                    s.closing = true;
                    s.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
                true
            }
            None => false,
        }
    }
}

/// The listening socket, bound by [`bind`](crate::server::bind); the server wraps it in a
/// [`GuardedAcceptor`] with its limits.
pub struct Listener {
    listener: TcpListener,
    local_addr: LocalAddr,
}

impl Listener {
    pub async fn bind(addr: &str) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = LocalAddr(listener.local_addr()?.into());
        Ok(Listener {
            listener,
            local_addr,
        })
    }

    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.local_addr.as_socket_addr().copied()
    }

    pub fn guarded(self, limits: Limits) -> GuardedAcceptor {
        GuardedAcceptor {
            listener: self.listener,
            local_addr: self.local_addr,
            limits,
            table: Arc::new(Table::default()),
            last_warned: None,
        }
    }
}

/// Accepts connections within the limits (see the module's introduction).
pub struct GuardedAcceptor {
    listener: TcpListener,
    local_addr: LocalAddr,
    limits: Limits,
    table: Arc<Table>,
    last_warned: Option<Instant>,
}

impl GuardedAcceptor {
    /// Connections open now and not told to close (for tests and the log).
    pub fn open_connections(&self) -> usize {
        self.table.live()
    }

    fn warn(&mut self, message: &'static str) {
        // Once a minute at most: a flood must not fill the log too.
        let now = Instant::now();
        if self
            .last_warned
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60))
        {
            self.last_warned = Some(now);
            tracing::warn!(max_connections = self.limits.max_connections, "{message}");
        }
    }

    fn track(&self, io: TcpStream) -> TrackedStream {
        let id = self.table.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            state: Mutex::new(State {
                phase: Phase::New,
                since: Instant::now(),
                closing: false,
                waker: None,
            }),
        });
        self.table.lock().insert(id, conn.clone());
        TrackedStream {
            io,
            id,
            conn,
            table: self.table.clone(),
            limits: self.limits,
            matched: 0,
            answered: false,
            deadline: None,
        }
    }
}

fn out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

impl Acceptor for GuardedAcceptor {
    type Io = TrackedStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        vec![self.local_addr.clone()]
    }

    // poem retries a failed accept at once, in a loop: errors are handled here instead.
    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            let (io, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) if out_of_descriptors(&e) => {
                    self.warn("out of file descriptors: closing the oldest idle connection");
                    self.table.evict_oldest_waiting();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            if self.table.live() >= self.limits.max_connections
                && !self.table.evict_oldest_waiting()
            {
                // Every connection is answering a request: this one waits its turn elsewhere.
                self.warn("connection limit reached with every connection busy; refusing one");
                drop(io);
                continue;
            }
            let stream = self.track(io);
            return Ok((
                stream,
                self.local_addr.clone(),
                RemoteAddr(peer.into()),
                Scheme::HTTP,
            ));
        }
    }
}

/// An accepted socket that keeps its connection's phase up to date.
pub struct TrackedStream {
    io: TcpStream,
    id: u64,
    conn: Arc<Conn>,
    table: Arc<Table>,
    limits: Limits,
    /// How many bytes of `\r\n\r\n` the header read so far ends with.
    matched: u8,
    /// The answer to the request in progress has started going out.
    answered: bool,
    deadline: Option<Pin<Box<Sleep>>>,
}

const HEADER_END: &[u8; 4] = b"\r\n\r\n";

/// Advances the search for the end of a header over `bytes`; true when found.
fn scan_header_end(matched: &mut u8, bytes: &[u8]) -> bool {
    for &b in bytes {
        *matched = if b == HEADER_END[*matched as usize] {
            *matched + 1
        } else if b == b'\r' {
            1
        } else {
            0
        };
        if *matched == 4 {
            *matched = 0;
            return true;
        }
    }
    false
}

impl TrackedStream {
    /// Notes bytes of a request that arrived.
    fn received(&mut self, bytes: &[u8]) {
        let mut s = self.conn.lock();
        match s.phase {
            Phase::New | Phase::Idle => {
                s.phase = Phase::Header;
                s.since = Instant::now();
                self.matched = 0;
            }
            // Bytes after the answer began belong to the next request (or to the rest of a
            // body the handler did not read, which is short).
            Phase::Busy if self.answered => {
                s.phase = Phase::Header;
                s.since = Instant::now();
                self.matched = 0;
                self.answered = false;
            }
            Phase::Header | Phase::Busy => {}
        }
        if s.phase == Phase::Header && scan_header_end(&mut self.matched, bytes) {
            s.phase = Phase::Busy;
            s.since = Instant::now();
            self.answered = false;
        }
    }

    /// Notes bytes of an answer that went out: a long answer written in parts stays busy
    /// between its flushes.
    fn answering(&mut self) {
        self.answered = true;
        let mut s = self.conn.lock();
        if s.phase == Phase::Idle {
            s.phase = Phase::Busy;
            s.since = Instant::now();
        }
    }

    /// When the current phase runs out, if it can.
    fn phase_deadline(&self, s: &State) -> Option<Instant> {
        match s.phase {
            Phase::New | Phase::Header => Some(s.since + self.limits.header_timeout),
            Phase::Idle => Some(s.since + self.limits.keepalive_timeout),
            Phase::Busy => None,
        }
    }

    /// Ready when the phase's time is up (the timer then wakes the reader).
    fn poll_deadline(&mut self, cx: &mut Context<'_>, at: Option<Instant>) -> Poll<()> {
        let Some(at) = at else {
            self.deadline = None;
            return Poll::Pending;
        };
        match &mut self.deadline {
            Some(sleep) if sleep.deadline() == at => {}
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.deadline = Some(Box::pin(tokio::time::sleep_until(at))),
        }
        match &mut self.deadline {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.conn.lock().closing {
            return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
        }
        let filled = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[filled..];
                if !new.is_empty() {
                    this.received(new);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let at = {
                    let mut s = this.conn.lock();
                    if s.phase == Phase::Busy && this.answered {
                        // The answer went out and the server waits for the next request.
                        s.phase = Phase::Idle;
                        s.since = Instant::now();
                        this.answered = false;
                    }
                    if s.closing {
                        return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
                    }
                    match &s.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => s.waker = Some(cx.waker().clone()),
                    }
                    this.phase_deadline(&s)
                };
                match this.poll_deadline(cx, at) {
                    Poll::Ready(()) => {
                        this.conn.lock().closing = true;
                        Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.answering();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.answering();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.io).poll_flush(cx);
        if matches!(result, Poll::Ready(Ok(()))) && self.answered {
            // hyper flushes when an answer is out, then waits for the socket to become readable
            // without reading again: the connection is idle from here, and the keep-alive timer
            // must wake this task itself.
            let this = &mut *self;
            this.answered = false;
            let at = {
                let mut s = this.conn.lock();
                s.phase = Phase::Idle;
                s.since = Instant::now();
                this.phase_deadline(&s)
            };
            let _ = this.poll_deadline(cx, at);
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Drop for TrackedStream {
    fn drop(&mut self) {
        self.table.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_header_is_found_across_reads() {
        let mut m = 0;
        assert!(!scan_header_end(&mut m, b"GET / HTTP/1.1\r\nHost: x\r"));
        assert!(!scan_header_end(&mut m, b"\n\r"));
        assert!(scan_header_end(&mut m, b"\nbody"));
        let mut m = 0;
        assert!(!scan_header_end(&mut m, b"GET / HTTP/1.1\r\n\r\r\n"));
        assert!(scan_header_end(&mut m, b"\r\n"));
    }

    #[test]
    fn the_connection_cap_keeps_room_for_the_database_and_files() {
        assert_eq!(max_connections(0, 1024), 768);
        assert_eq!(max_connections(0, 1 << 20), 10_000);
        assert_eq!(max_connections(50_000, 4096), 3840);
        assert_eq!(max_connections(100, 4096), 100);
        assert_eq!(max_connections(0, 64), 32);
    }
}
