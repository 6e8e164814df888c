use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use super::*;

#[test]
fn urls_patroni_can_be_reached_at() {
    for (url, addr, path) in [
        ("http://127.0.0.1:8008", "127.0.0.1:8008", "/config"),
        ("http://127.0.0.1", "127.0.0.1:8008", "/config"),
        ("HTTP://localhost:18008/", "127.0.0.1:18008", "/config"),
        ("http://[::1]:8009", "[::1]:8009", "/config"),
        ("http://10.0.0.5:8008/patroni/", "10.0.0.5:8008", "/patroni/config"),
        (" http://127.0.0.1:8008 ", "127.0.0.1:8008", "/config"),
    ] {
        let endpoint = Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            (endpoint.addr.to_string(), endpoint.config_path()),
            (addr.to_string(), path.to_string()),
            "{url}"
        );
    }
}

#[test]
fn urls_refused_with_a_reason_that_never_repeats_them() {
    for (url, says) in [
        ("https://127.0.0.1:8008", "HTTPS is not supported"),
        ("ftp://127.0.0.1", "must start with http://"),
        ("127.0.0.1:8008", "must start with http://"),
        (
            "http://walrus:s3cret@127.0.0.1:8008",
            "credentials do not belong in the URL",
        ),
        ("http://patroni.example:8008", "IP address or localhost"),
        ("http://127.0.0.1:0", "port must be"),
        ("http://127.0.0.1:99999", "port must be"),
        ("http://127.0.0.1:8008/config?x=1", "query"),
        ("http://:8008", "no host"),
        ("http://[::1:8008", "closing ]"),
        ("", "must start with http://"),
    ] {
        let error = Endpoint::parse(url).expect_err(url);
        assert!(error.contains(says), "{url}: {error}");
        assert!(!error.contains("s3cret"), "{error}");
    }
}

#[test]
fn credentials_file_format() {
    let parsed = Credentials::parse("# Patroni REST API\n\nwalrus:pa:ss word\n").unwrap();
    assert_eq!(
        parsed,
        Credentials {
            username: "walrus".into(),
            password: "pa:ss word".into()
        }
    );
    assert!(!format!("{parsed:?}").contains("pa:ss"));
    assert_eq!(Credentials::parse("u:p\r\n").unwrap().authorization(), "Basic dTpw");
    for (text, says) in [
        ("", "no username:password line"),
        ("# only a comment\n", "no username:password line"),
        ("justapassword\n", "must be username:password"),
        (":secret\n", "username before the colon is empty"),
        ("user:sec\u{7}ret\n", "control character"),
    ] {
        let error = Credentials::parse(text).expect_err(text);
        assert!(error.contains(says), "{text:?}: {error}");
        assert!(!error.contains("secret") && !error.contains("sec\u{7}ret"), "{error}");
    }
}

/// A throwaway HTTP endpoint that answers each connection with the next of
/// `answers`, and hands back the requests it received.
fn endpoint_answering(answers: Vec<String>) -> (Endpoint, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let server = thread::spawn(move || {
        let mut requests = Vec::new();
        for answer in answers {
            let (mut socket, _) = listener.accept().unwrap();
            let mut received = Vec::new();
            let mut buffer = [0u8; 4096];
            // Headers and the (small) body arrive in one write.
            while !String::from_utf8_lossy(&received).contains("\"max_wal_size\"") {
                let n = socket.read(&mut buffer).unwrap();
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buffer[..n]);
            }
            requests.push(String::from_utf8(received).unwrap());
            socket.write_all(answer.as_bytes()).unwrap();
        }
        requests
    });
    (endpoint, server)
}

fn answer(status: &str, body: &str) -> String {
    format!("HTTP/1.0 {status}\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

const TAKEN: &str = r#"{"loop_wait": 10, "postgresql": {"parameters": {"max_wal_size": "832MB"}}}"#;

#[test]
fn a_conflict_is_retried_once_then_the_change_takes() {
    let (endpoint, server) = endpoint_answering(vec![answer("409 Conflict", "busy"), answer("200 OK", TAKEN)]);
    let credentials = Credentials::parse("walrus:s3cret").unwrap();
    let report = patch_max_wal_size(&endpoint, Some(&credentials), 832, REQUEST_TIMEOUT);
    assert!(report.result.is_ok(), "{report:?}");
    assert_eq!((report.attempts, report.status), (2, Some(200)));
    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 2);
    for request in requests {
        assert!(request.starts_with("PATCH /config HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("\r\nAuthorization: Basic d2FscnVzOnMzY3JldA==\r\n"),
            "{request}"
        );
        assert!(
            request.ends_with(r#"{"postgresql":{"parameters":{"max_wal_size":"832MB"}}}"#),
            "{request}"
        );
    }
}

#[test]
fn two_conflicts_fail_the_change() {
    let (endpoint, _server) = endpoint_answering(vec![answer("409 Conflict", ""), answer("409 Conflict", "")]);
    let report = patch_max_wal_size(&endpoint, None, 832, REQUEST_TIMEOUT);
    assert!(matches!(report.result, Err(PatchError::Conflict)), "{report:?}");
    assert_eq!(report.attempts, 2);
}

#[test]
fn refusals_and_errors_are_not_retried() {
    for (status, says) in [
        ("401 Unauthorized", "refused the request (HTTP 401)"),
        ("403 Forbidden", "refused the request (HTTP 403)"),
        ("503 Service Unavailable", "HTTP 503: no \"leader\"\u{20}"),
    ] {
        let (endpoint, _server) = endpoint_answering(vec![answer(status, "no \"leader\"\n here")]);
        let report = patch_max_wal_size(&endpoint, None, 832, REQUEST_TIMEOUT);
        let error = report.result.expect_err(status).to_string();
        assert!(error.contains(says.trim_end()), "{status}: {error}");
        assert_eq!(report.attempts, 1);
    }
}

#[test]
fn a_200_must_hold_the_value_sent() {
    let (endpoint, _server) = endpoint_answering(vec![answer("200 OK", TAKEN)]);
    let report = patch_max_wal_size(&endpoint, None, 1024, REQUEST_TIMEOUT);
    let error = report.result.expect_err("832MB is not 1024MB").to_string();
    assert!(error.contains("max_wal_size = \"832MB\""), "{error}");
}

#[test]
fn an_unreachable_patroni_fails_fast() {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let endpoint = Endpoint::parse(&format!("http://{addr}")).unwrap();
    let report = patch_max_wal_size(&endpoint, None, 832, REQUEST_TIMEOUT);
    let error = report.result.expect_err("nothing listens").to_string();
    assert!(
        error.starts_with("Patroni's REST API is unreachable: could not connect"),
        "{error}"
    );
    assert_eq!((report.attempts, report.status), (1, None));
}
