//! What the command-line tests share: the `hms` binary, temporary folders, running commands
//! and a server on a free port.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_hms");
pub const PW: &str = "green mango season 2026";

/// A fresh folder under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "hms-cli-test-{tag}-{}-{nanos}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `hms ARGS --data-dir DATA`, with automatic backups (if a server runs) going to `backups`.
pub fn command(args: &[&str], data: &Path, backups: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("HMS_DATABASE_URL")
        .env_remove("HMS_CONFIG")
        .env_remove("HMS_BIND")
        .env_remove("HMS_DATA_DIR")
        .env("HMS_BACKUP_DIR", backups);
    cmd
}

pub fn hms(args: &[&str], data: &Path, backups: &Path, stdin: Option<&str>) -> Output {
    let mut child = command(args, data, backups)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hms runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A server on a free port; SIGTERM on drop if still running.
#[cfg(unix)]
pub struct Server {
    child: Child,
    pub bind: String,
}

#[cfg(unix)]
impl Server {
    pub fn start(data: &Path, backups: &Path) -> Server {
        Self::start_with_env(data, backups, &[])
    }

    /// [`Server::start`] with extra environment variables (configuration).
    pub fn start_with_env(data: &Path, backups: &Path, env: &[(&str, &str)]) -> Server {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let bind = format!("127.0.0.1:{port}");
        let child = command(&["serve", "--bind", &bind], data, backups)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Server { child, bind };
        server.wait_healthy();
        server
    }

    /// A server started by `command`, listening on `bind`, once it answers.
    pub fn from_command(mut command: Command, bind: String) -> Server {
        let child = command.spawn().unwrap();
        let mut server = Server { child, bind };
        server.wait_healthy();
        server
    }

    /// A free port on the loopback, as `127.0.0.1:PORT`.
    pub fn free_bind() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("127.0.0.1:{}", l.local_addr().unwrap().port())
    }

    pub fn wait_healthy(&mut self) {
        use std::io::Read;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(&self.bind) {
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut resp = String::new();
                let _ = s.read_to_string(&mut resp);
                if resp.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server exited early: {status}");
            }
            assert!(Instant::now() < deadline, "the server did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let kill = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        self.child.wait().unwrap()
    }
}

#[cfg(unix)]
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.terminate();
        }
    }
}
