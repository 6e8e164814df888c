//! Sizes through Patroni (`walrus.apply_via = patroni`): the REST API's
//! address and credentials, the `PATCH /config` that sets max_wal_size for
//! every member, what its answer means, and what a node does with its own
//! postgresql.auto.conf line ([`local_line`]). No PostgreSQL here: the
//! extension reads the settings and the credentials file and passes them in;
//! the network calls are plain std sockets with one deadline each.

mod http;
pub mod local_line;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::{Value, json};

pub use http::HttpError;

/// Patroni's REST API port when the URL names none.
pub const DEFAULT_PORT: u16 = 8008;
/// One request, connection to last byte. Patroni answers a PATCH once the
/// DCS has the new value: milliseconds on a healthy cluster.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// A 409 (Patroni's compare-and-set met a concurrent change) is retried
/// once: at most this many requests per change.
pub const MAX_ATTEMPTS: u32 = 2;

/// Where Patroni's REST API listens: `http://<IP or localhost>[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// The path prefix, without a trailing slash ("" for none).
    prefix: String,
}

impl Endpoint {
    /// Parses `walrus.patroni_url`. The errors say what to write instead and
    /// never repeat the value (it could hold a password).
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        let rest = if lower.starts_with("http://") {
            &url["http://".len()..]
        } else if lower.starts_with("https://") {
            return Err(
                "HTTPS is not supported: pg_walrus talks plain HTTP to the Patroni on its own host \
                        (http://127.0.0.1:8008)"
                    .into(),
            );
        } else {
            return Err("the URL must start with http:// (for example http://127.0.0.1:8008)".into());
        };
        if rest.contains(['?', '#']) {
            return Err("the URL must not have a query or a fragment".into());
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err("credentials do not belong in the URL: name a file holding them in \
                        walrus.patroni_auth_file"
                .into());
        }
        let (host, port) = split_host_port(authority)?;
        let ip = match host {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            _ => host.parse::<IpAddr>().map_err(|_| {
                "the host must be an IP address or localhost: a host name needs a DNS lookup, \
                 which can block the worker"
                    .to_string()
            })?,
        };
        if path.chars().any(|c| !c.is_ascii_graphic()) {
            return Err("the URL's path must be plain ASCII without spaces".into());
        }
        Ok(Endpoint {
            addr: SocketAddr::new(ip, port),
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    /// The path of Patroni's dynamic configuration.
    pub fn config_path(&self) -> String {
        format!("{}/config", self.prefix)
    }

    /// The Host header: the address the URL names.
    fn host_header(&self) -> String {
        self.addr.to_string()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.addr, self.prefix)
    }
}

fn split_host_port(authority: &str) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "an IPv6 address needs its closing ]".to_string())?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| "the port must be a number from 1 to 65535".to_string())?,
    };
    Ok((host, port))
}

/// Basic-auth credentials for Patroni's REST API (its `restapi.authentication`).
/// Debug and errors never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({:?}, <password>)", self.username)
    }
}

impl Credentials {
    /// The credentials file's text: its first line that is neither empty nor
    /// a `#` comment is `username:password` (the password may hold colons).
    pub fn parse(text: &str) -> Result<Credentials, String> {
        let line = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .ok_or("the file holds no username:password line")?;
        let (username, password) = line.split_once(':').ok_or("its first line must be username:password")?;
        if username.is_empty() {
            return Err("the username before the colon is empty".into());
        }
        if line.chars().any(char::is_control) {
            return Err("the username:password line holds a control character".into());
        }
        Ok(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        })
    }

    fn authorization(&self) -> String {
        format!(
            "Basic {}",
            http::base64(format!("{}:{}", self.username, self.password).as_bytes())
        )
    }
}

/// max_wal_size as Patroni's configuration holds it: `"<N>MB"`.
pub fn size_value(size_mb: i32) -> String {
    format!("{size_mb}MB")
}

/// The body of the PATCH: only max_wal_size, so every other setting in the
/// cluster's configuration stays as it is.
pub fn patch_body(size_mb: i32) -> Value {
    json!({"postgresql": {"parameters": {"max_wal_size": size_value(size_mb)}}})
}

/// Why a PATCH did not set the size.
#[derive(Debug)]
pub enum PatchError {
    /// 401 or 403: the credentials (walrus.patroni_auth_file) are wrong or missing.
    Refused { status: u16 },
    /// 409 on every attempt: concurrent changes to Patroni's configuration.
    Conflict,
    /// Any other answer than 200.
    Status { status: u16, excerpt: String },
    /// Nothing answered, or not in time.
    Unreachable(HttpError),
    /// 200, but the configuration it returned holds another value.
    NotTaken { found: String },
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::Refused { status } => write!(
                f,
                "Patroni refused the request (HTTP {status}): check the credentials in walrus.patroni_auth_file"
            ),
            PatchError::Conflict => write!(
                f,
                "Patroni's configuration changed concurrently (HTTP 409) on {MAX_ATTEMPTS} attempts"
            ),
            PatchError::Status { status, excerpt } => write!(f, "Patroni answered HTTP {status}: {excerpt}"),
            PatchError::Unreachable(HttpError::Timeout) => {
                write!(f, "Patroni did not answer within {} s", REQUEST_TIMEOUT.as_secs())
            }
            PatchError::Unreachable(error) => write!(f, "Patroni's REST API is unreachable: {error}"),
            PatchError::NotTaken { found } => {
                write!(
                    f,
                    "Patroni answered 200 but its configuration holds max_wal_size = {found}"
                )
            }
        }
    }
}

/// What one change cost and how it ended.
#[derive(Debug)]
pub struct PatchReport {
    /// Requests sent (2 when a 409 was retried).
    pub attempts: u32,
    /// The final HTTP status, when there was one.
    pub status: Option<u16>,
    pub result: Result<(), PatchError>,
}

/// Sets max_wal_size in Patroni's dynamic configuration: `PATCH /config`
/// with only that parameter, retried once after a 409. Each request is
/// bounded by `timeout`.
pub fn patch_max_wal_size(
    endpoint: &Endpoint,
    credentials: Option<&Credentials>,
    size_mb: i32,
    timeout: Duration,
) -> PatchReport {
    let body = patch_body(size_mb).to_string();
    let path = endpoint.config_path();
    let host = endpoint.host_header();
    let mut headers = vec![
        ("Content-Type", "application/json".to_string()),
        ("User-Agent", format!("pg_walrus/{}", env!("CARGO_PKG_VERSION"))),
    ];
    if let Some(credentials) = credentials {
        headers.push(("Authorization", credentials.authorization()));
    }
    let request = http::Request {
        method: "PATCH",
        path: &path,
        host: &host,
        headers,
        body: body.as_bytes(),
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let response = match http::send(endpoint.addr, &request, timeout) {
            Ok(response) => response,
            Err(error) => {
                return PatchReport {
                    attempts,
                    status: None,
                    result: Err(PatchError::Unreachable(error)),
                };
            }
        };
        let status = Some(response.status);
        let result = match response.status {
            200 => check_taken(&response.body, size_mb),
            409 if attempts < MAX_ATTEMPTS => continue,
            409 => Err(PatchError::Conflict),
            401 | 403 => Err(PatchError::Refused {
                status: response.status,
            }),
            other => Err(PatchError::Status {
                status: other,
                excerpt: excerpt(&response.body),
            }),
        };
        return PatchReport {
            attempts,
            status,
            result,
        };
    }
}

/// A 200 answers with the whole new configuration: it must hold our value.
/// A body that is not JSON is taken at its word (the status said so).
fn check_taken(body: &[u8], size_mb: i32) -> Result<(), PatchError> {
    let Ok(config) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    match config.pointer("/postgresql/parameters/max_wal_size") {
        Some(Value::String(found)) if *found == size_value(size_mb) => Ok(()),
        Some(found) => Err(PatchError::NotTaken {
            found: found.to_string(),
        }),
        None => Err(PatchError::NotTaken {
            found: "nothing".to_string(),
        }),
    }
}

/// The start of an error body, on one line, for a log line or history.
fn excerpt(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        "(no body)".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests;
