//! **I/O**: the one module of this crate that touches the network.
//!
//! Just enough HTTP/1.1 to send one request to Patroni's REST API and read
//! its answer, on std's TcpStream: one connection per request
//! (`Connection: close`), no TLS, no redirects, and one deadline for the
//! whole exchange, so the caller (the background worker) never waits longer
//! than it asked to, whatever the other end does.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The most of a response that is read: Patroni's configuration is a few
/// kilobytes.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The Host header's value.
    pub host: &'a str,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum HttpError {
    /// Nothing accepted the connection (refused, unreachable).
    Connect(io::Error),
    /// The deadline passed before the answer was complete.
    Timeout,
    /// The connection broke.
    Io(io::Error),
    /// What came back was not an HTTP response.
    Malformed(&'static str),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect(e) => write!(f, "could not connect: {e}"),
            HttpError::Timeout => write!(f, "no complete answer in time"),
            HttpError::Io(e) => write!(f, "the connection failed: {e}"),
            HttpError::Malformed(what) => write!(f, "the answer is not HTTP: {what}"),
        }
    }
}

/// Sends `request` to `addr` and reads the response, all within `timeout`.
pub fn send(addr: SocketAddr, request: &Request, timeout: Duration) -> Result<Response, HttpError> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HttpError::Timeout,
        _ => HttpError::Connect(e),
    })?;
    let _ = stream.set_nodelay(true);
    let mut message = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.method,
        request.path,
        request.host,
        request.body.len()
    )
    .into_bytes();
    for (name, value) in &request.headers {
        message.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    message.extend_from_slice(b"\r\n");
    message.extend_from_slice(request.body);
    stream
        .set_write_timeout(Some(remaining(deadline)?))
        .map_err(HttpError::Io)?;
    stream.write_all(&message).map_err(io_error)?;
    read_response(&mut stream, deadline)
}

fn remaining(deadline: Instant) -> Result<Duration, HttpError> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or(HttpError::Timeout)
}

fn io_error(e: io::Error) -> HttpError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HttpError::Timeout,
        _ => HttpError::Io(e),
    }
}

/// Reads until the body announced by Content-Length is complete, or the
/// server closes the connection (which `Connection: close` asked for).
fn read_response(stream: &mut TcpStream, deadline: Instant) -> Result<Response, HttpError> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut head: Option<(usize, u16, Option<usize>)> = None;
    loop {
        if let Some((body_start, status, Some(length))) = head
            && buffer.len() >= body_start + length
        {
            buffer.truncate(body_start + length);
            return Ok(Response {
                status,
                body: buffer.split_off(body_start),
            });
        }
        stream
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(HttpError::Io)?;
        let read = stream.read(&mut chunk).map_err(io_error)?;
        if read == 0 {
            let Some((body_start, status, _)) = head else {
                return Err(HttpError::Malformed("the connection closed before the headers ended"));
            };
            return Ok(Response {
                status,
                body: buffer.split_off(body_start),
            });
        }
        buffer.extend_from_slice(&chunk[..read]);
        if buffer.len() > MAX_RESPONSE_BYTES {
            return Err(HttpError::Malformed("the response is too large"));
        }
        if head.is_none() {
            head = parse_head(&buffer)?;
        }
    }
}

/// The status, where the body starts and its Content-Length, once the
/// headers are complete.
fn parse_head(buffer: &[u8]) -> Result<Option<(usize, u16, Option<usize>)>, HttpError> {
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buffer[..end]).map_err(|_| HttpError::Malformed("the headers are not text"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("no HTTP/1.x status line"));
    }
    let status = code
        .parse::<u16>()
        .ok()
        .filter(|s| (100..600).contains(s))
        .ok_or(HttpError::Malformed("no status code"))?;
    let length = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    Ok(Some((end + 4, status, length)))
}

/// RFC 4648 base64 with padding, for the Basic Authorization header.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let bytes = [group[0], *group.get(1).unwrap_or(&0), *group.get(2).unwrap_or(&0)];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("walrus:s3cr:et", "d2FscnVzOnMzY3I6ZXQ="),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input}");
        }
    }

    fn serve_once(answer: &'static [u8]) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut received = vec![0u8; 4096];
            let n = socket.read(&mut received).unwrap();
            received.truncate(n);
            socket.write_all(answer).unwrap();
            received
        });
        (addr, handle)
    }

    fn request(body: &[u8]) -> Request<'_> {
        Request {
            method: "PATCH",
            path: "/config",
            host: "127.0.0.1",
            headers: vec![("Content-Type", "application/json".into())],
            body,
        }
    }

    #[test]
    fn sends_one_request_and_reads_the_announced_body() {
        let (addr, server) = serve_once(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing");
        let response = send(addr, &request(b"{\"a\":1}"), Duration::from_secs(5)).unwrap();
        assert_eq!(
            response,
            Response {
                status: 200,
                body: b"{}".to_vec()
            }
        );
        let sent = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(
            sent.starts_with("PATCH /config HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
            "{sent}"
        );
        assert!(
            sent.contains("Content-Length: 7\r\n") && sent.ends_with("\r\n\r\n{\"a\":1}"),
            "{sent}"
        );
    }

    #[test]
    fn a_body_without_length_ends_with_the_connection() {
        let (addr, _server) = serve_once(b"HTTP/1.1 409 Conflict\r\n\r\nbusy");
        let response = send(addr, &request(b""), Duration::from_secs(5)).unwrap();
        assert_eq!((response.status, response.body), (409, b"busy".to_vec()));
    }

    #[test]
    fn a_server_that_never_answers_times_out_on_time() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let started = Instant::now();
        let result = send(addr, &request(b""), Duration::from_millis(300));
        assert!(matches!(result, Err(HttpError::Timeout)), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        drop(listener);
    }

    #[test]
    fn nothing_listening_is_a_connect_error() {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let result = send(addr, &request(b""), Duration::from_secs(2));
        assert!(matches!(result, Err(HttpError::Connect(_))), "{result:?}");
    }

    #[test]
    fn garbage_is_not_a_response() {
        let (addr, _server) = serve_once(b"SSH-2.0-OpenSSH\r\n\r\n");
        assert!(matches!(
            send(addr, &request(b""), Duration::from_secs(5)),
            Err(HttpError::Malformed(_))
        ));
    }
}
