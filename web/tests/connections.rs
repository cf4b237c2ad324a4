//! Slow and idle connections cannot exhaust the server: the real `hms` process, under a
//! service's usual limit of 1,024 open files, keeps answering while clients hold sockets open
//! with half a request header; stalled headers and idle connections are closed in time; at the
//! connection cap the oldest waiting connection makes room. A port already taken is reported
//! before any database is made, and `hms service install` writes the unit that runs the server.
#![cfg(unix)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const HALF_HEADER: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

/// `hms serve` on a free port, run through `bash` so that `shell` (e.g. `ulimit -n 1024`)
/// applies first; its log goes to `log`.
fn server(data: &Path, shell: &str, env: &[(&str, &str)], log: &Path) -> Server {
    let bind = Server::free_bind();
    let backups = data.join("../backups");
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("{shell}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["serve", "--bind", &bind, "--data-dir"])
        .arg(data)
        .env_remove("HMS_DATABASE_URL")
        .env_remove("HMS_CONFIG")
        .env_remove("HMS_BIND")
        .env_remove("HMS_DATA_DIR")
        .env("HMS_BACKUP_DIR", &backups)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Server::from_command(cmd, bind)
}

fn half_open(bind: &str) -> TcpStream {
    let mut s = TcpStream::connect(bind).unwrap();
    s.write_all(HALF_HEADER).unwrap();
    s
}

/// True when the server has closed the socket (end of stream or reset) within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// `GET /healthz` on a new connection; the status line and how long the answer took.
fn healthz(bind: &str, keep_alive: bool) -> (String, Duration, TcpStream) {
    let started = Instant::now();
    let mut s = TcpStream::connect(bind).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let connection = if keep_alive { "keep-alive" } else { "close" };
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: {connection}\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // The answer is small: read until its body ("ok") is in.
    while !got.ends_with(b"ok") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    let status = text.lines().next().unwrap_or_default().to_string();
    (status, started.elapsed(), s)
}

#[test]
fn half_open_sockets_do_not_stop_the_server_under_a_low_open_files_limit() {
    // The test process itself holds 1,100 sockets.
    hms_web::connections::open_files();
    let dir = TempDir::new("conn-flood");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let server = server(&data, "ulimit -n 1024", &[], &log);

    let mut sockets: Vec<TcpStream> = (0..1100).map(|_| half_open(&server.bind)).collect();
    std::thread::sleep(Duration::from_secs(3));

    let (status, took, _) = healthz(&server.bind, false);
    assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");

    // Room was made by closing the oldest of them; the newest still wait for their header.
    let oldest_closed = sockets[..100]
        .iter_mut()
        .filter_map(|s| closed_within(s, Duration::from_millis(20)).then_some(()))
        .count();
    assert!(
        oldest_closed >= 90,
        "{oldest_closed} of the oldest 100 closed"
    );
    assert!(!closed_within(
        sockets.last_mut().unwrap(),
        Duration::from_millis(100)
    ));

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        !logged.contains("Too many open files") && !logged.contains("os error 24"),
        "{logged}"
    );
    assert!(
        logged.contains("connection limits") && logged.contains("max_connections=768"),
        "{logged}"
    );
}

#[test]
fn at_the_cap_the_oldest_waiting_connection_makes_room() {
    let dir = TempDir::new("conn-cap");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let server = server(&data, "true", &[("HMS_MAX_CONNECTIONS", "10")], &log);

    let mut waiting: Vec<TcpStream> = Vec::new();
    for _ in 0..10 {
        waiting.push(half_open(&server.bind));
        // The server must have seen each one before the next: "oldest" is then clear.
        std::thread::sleep(Duration::from_millis(30));
    }
    for s in waiting.iter_mut() {
        assert!(!closed_within(s, Duration::from_millis(10)));
    }

    // An eleventh connection is answered: the oldest waiting one was closed for it.
    let (status, took, _) = healthz(&server.bind, false);
    assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    assert!(closed_within(&mut waiting[0], Duration::from_secs(1)));
    for (i, s) in waiting.iter_mut().enumerate().skip(1) {
        assert!(
            !closed_within(s, Duration::from_millis(20)),
            "connection {i} was closed, not only the oldest"
        );
    }
}

#[test]
fn a_stalled_header_and_an_idle_connection_are_closed_in_time() {
    let dir = TempDir::new("conn-timeouts");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let server = server(
        &data,
        "true",
        &[
            ("HMS_HEADER_TIMEOUT_SECONDS", "1"),
            ("HMS_KEEPALIVE_TIMEOUT_SECONDS", "3"),
        ],
        &log,
    );

    let started = Instant::now();
    let mut stalled = half_open(&server.bind);
    let mut silent = TcpStream::connect(&server.bind).unwrap();
    let (status, _, mut idle) = healthz(&server.bind, true);
    assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");

    // Within the header timeout all three are open.
    assert!(!closed_within(&mut stalled, Duration::from_millis(500)));
    assert!(closed_within(&mut stalled, Duration::from_secs(2)));
    assert!(closed_within(&mut silent, Duration::from_millis(500)));
    let header_closed = started.elapsed();
    assert!(
        header_closed < Duration::from_secs(3),
        "stalled header closed after {header_closed:?}"
    );

    // The idle connection outlives the header timeout and is still usable...
    assert!(!closed_within(&mut idle, Duration::from_millis(200)));
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    idle.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = idle.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // ...then closed after the keep-alive timeout.
    let idle_since = Instant::now();
    assert!(!closed_within(&mut idle, Duration::from_secs(2)));
    assert!(closed_within(&mut idle, Duration::from_secs(3)));
    let idle_for = idle_since.elapsed();
    assert!(
        idle_for >= Duration::from_millis(2500) && idle_for < Duration::from_secs(5),
        "idle connection closed after {idle_for:?}"
    );
}

#[test]
fn a_port_in_use_is_reported_before_the_database_is_created_or_migrated() {
    let dir = TempDir::new("port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let out = hms(
        &["serve", "--bind", &bind],
        &dir.path().join("data"),
        &dir.path().join("backups"),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("cannot listen on {bind}")),
        "{}",
        text(&out)
    );
    assert!(
        !dir.path().join("data/hms.db").exists(),
        "no database made for a server that cannot listen"
    );
}

#[test]
fn service_install_prints_a_systemd_unit_with_user_data_directory_and_restarts() {
    let dir = TempDir::new("service");
    let data = dir.path().join("clinic data");
    let out = Command::new(BIN)
        .args([
            "service",
            "install",
            "--print",
            "--user",
            "hmsclinic",
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("HMS_CONFIG")
        .env_remove("HMS_DATA_DIR")
        .env_remove("HMS_BACKUP_DIR")
        .env_remove("HMS_DATABASE_URL")
        .output()
        .unwrap();
    let unit = text(&out);
    assert!(out.status.success(), "{unit}");
    let bin = std::fs::canonicalize(BIN).unwrap();
    for line in [
        "[Service]".to_string(),
        "User=hmsclinic".into(),
        format!(
            "ExecStart={} serve --data-dir \"{}\"",
            bin.display(),
            data.display()
        ),
        format!("WorkingDirectory={}", dir.path().display()),
        format!(
            "ReadWritePaths=\"{}\" {}",
            data.display(),
            dir.path().join("hms-backups").display()
        ),
        "Restart=on-failure".into(),
        "WantedBy=multi-user.target".into(),
        "systemctl enable hms.service".into(),
    ] {
        assert!(unit.contains(&line), "the unit has {line}:\n{unit}");
    }
    assert!(!data.exists(), "--print changes nothing");

    // Without a data directory of its own, a service keeps its data under /var/lib/hms.
    let plain = Command::new(BIN)
        .args(["service", "install", "--print"])
        .current_dir(dir.path())
        .env_remove("HMS_CONFIG")
        .env_remove("HMS_DATA_DIR")
        .env_remove("HMS_BACKUP_DIR")
        .output()
        .unwrap();
    assert!(
        text(&plain).contains("serve --data-dir /var/lib/hms/data"),
        "{}",
        text(&plain)
    );
}
