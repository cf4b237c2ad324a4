//! PostgreSQL connections send each statement at once: Nagle's algorithm is off on their
//! sockets (sqlx 0.9.0 leaves it on; see `tcp_sockets_without_delay` in hms-core's `db.rs`).
//! A test binary of its own, so that no other test opens sockets meanwhile.

#[cfg(target_os = "linux")]
#[tokio::test]
async fn postgres_connections_send_without_delay() {
    use hms_testkit::{Backend, TestApp};
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return; // PostgreSQL not configured for this run
    };
    sqlx::query("SELECT 1")
        .execute(app.db().read())
        .await
        .unwrap();
    let url = std::env::var("HMS_TEST_POSTGRES_URL").unwrap();
    let authority = url.split("://").nth(1).unwrap_or("");
    let host_port = authority
        .rsplit('@')
        .next()
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("");
    let port: u16 = host_port
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(5432);
    let mut checked = 0;
    for fd in hms_core::db::socket_descriptors() {
        if peer_port(fd) != Some(port) {
            continue;
        }
        let mut on: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `on`.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&mut on as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        assert_eq!(
            on, 1,
            "a connection to PostgreSQL (descriptor {fd}) still waits to send"
        );
        checked += 1;
    }
    assert!(
        checked > 0,
        "no connection to PostgreSQL found on port {port}"
    );
}

/// The remote port of a TCP socket, if `fd` is one.
#[cfg(target_os = "linux")]
fn peer_port(fd: libc::c_int) -> Option<u16> {
    // SAFETY: sockaddr_storage is plain data; getpeername writes at most `len` bytes into it.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let rc = unsafe {
        libc::getpeername(
            fd,
            (&mut addr as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    match addr.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a: &libc::sockaddr_in =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast() };
            Some(u16::from_be(a.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast() };
            Some(u16::from_be(a.sin6_port))
        }
        _ => None,
    }
}
