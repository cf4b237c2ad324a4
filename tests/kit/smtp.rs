//! A small real SMTP server on loopback for tests: it speaks enough SMTP for lettre (EHLO/HELO,
//! MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT), keeps every message it accepted, and can be
//! stopped and started again on the same port to play an outage.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// A message as received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Headers and body as sent after DATA (dot-stuffing undone), CRLF line ends.
    pub data: String,
}

impl Mail {
    /// The value of the first header called `name` (case-insensitive; folded lines joined).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = found.as_mut() {
                    v.push_str(line.trim_start());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.trim().eq_ignore_ascii_case(name) {
                    found = Some(v.trim().to_string());
                }
            }
        }
        found
    }

    /// The body (after the blank line), quoted-printable decoded when it was sent so.
    pub fn body(&self) -> String {
        let raw = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        let qp = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if qp {
            decode_quoted_printable(&raw)
        } else {
            raw
        }
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct SmtpServer {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(64)
}

impl SmtpServer {
    /// Starts on 127.0.0.1 and a free port.
    pub async fn start() -> SmtpServer {
        let listener = listen("127.0.0.1:0".parse().unwrap()).expect("SMTP test server binds");
        let addr = listener.local_addr().unwrap();
        let mut server = SmtpServer {
            addr,
            mails: Arc::new(Mutex::new(Vec::new())),
            task: None,
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        server.accept_on(listener);
        server
    }

    fn accept_on(&mut self, listener: TcpListener) {
        let mails = self.mails.clone();
        let connections = self.connections.clone();
        self.task = Some(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let conn = tokio::spawn(session(stream, mails.clone()));
                connections.lock().unwrap().push(conn);
            }
        }));
    }

    /// `smtp://127.0.0.1:PORT` (plain SMTP).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Stops listening and drops every open connection: the server is down.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        for conn in self.connections.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match listen(self.addr) {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("SMTP test server cannot listen again: {e}"),
            }
        };
        self.accept_on(listener);
    }

    /// Every message accepted so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits (up to `timeout`) until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mails = self.mails();
            if mails.len() >= n || tokio::time::Instant::now() >= deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn address(arg: &str) -> String {
    let start = arg.find('<').map(|i| i + 1).unwrap_or(0);
    let end = arg.rfind('>').unwrap_or(arg.len());
    arg[start..end.max(start)].to_string()
}

async fn session(stream: TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write
        .write_all(b"220 localhost HMS test SMTP\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut from = String::new();
    let mut rcpt = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") {
            b"250-localhost\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n"
        } else if upper.starts_with("HELO") {
            b"250 localhost\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&cmd[10..]);
            rcpt.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            rcpt.push(address(&cmd[8..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            if write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push_str(
                    l.strip_prefix('.')
                        .filter(|_| l.starts_with(".."))
                        .unwrap_or(l),
                );
                data.push_str("\r\n");
            }
            mails.lock().unwrap().push(Mail {
                mail_from: std::mem::take(&mut from),
                rcpt_to: std::mem::take(&mut rcpt),
                data,
            });
            b"250 OK queued\r\n"
        } else if upper == "RSET" {
            from.clear();
            rcpt.clear();
            b"250 OK\r\n"
        } else if upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 Bye\r\n").await;
            return;
        } else {
            b"502 Command not implemented\r\n"
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}
