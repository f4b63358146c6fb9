//! HTTP and HTTPS for the `openai` engine, through ureq (rustls with Mozilla's roots, or a
//! private CA from `--ca-cert`): connections are pooled and kept alive between pages (a new
//! connection would put a TCP and TLS handshake inside every page's TTFT), a response body
//! is read as it arrives (streaming), and one deadline covers a page's whole exchange.
//!
//! Proxies come from the environment as curl and the `openai` SDK read them:
//! `HTTPS_PROXY` / `https_proxy` for an `https://` server, `HTTP_PROXY` / `http_proxy`
//! for `http://`, `ALL_PROXY` otherwise, and `NO_PROXY` / `no_proxy` (comma-separated
//! host names, `.suffix` or `*`) exempts hosts. The engine talks to one server, so the
//! choice is made once, when the client is built.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the server is: `http[s]://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing `/` (empty for the root).
    pub prefix: String,
}

impl BaseUrl {
    /// Parses a base URL. A trailing `/v1` is dropped, so `http://h:8000` and
    /// `http://h:8000/v1` (how vLLM documents it) name the same server. Credentials in the
    /// URL are refused, and the error does not repeat them.
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let (https, rest) = match url.split_once("://") {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            _ => {
                return Err(format!(
                    "{}: expected http://host[:port][/path] or https://…",
                    redact_userinfo(url)
                ))
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(format!(
                "{}: credentials in the URL would end up in reports and logs; pass the API key through --api-key-env (or a gateway header with --header)",
                redact_userinfo(url)
            ));
        }
        let (host, port) = match authority.strip_prefix('[') {
            // An IPv6 literal: [::1]:8000
            Some(v6) => {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("{url}: unclosed '[' in the host"))?;
                (h, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("{url}: bad port '{p}'"))?,
            None if https => 443,
            None => 80,
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let prefix = path.trim_end_matches('/');
        let prefix = prefix.strip_suffix("/v1").unwrap_or(prefix);
        Ok(BaseUrl {
            https,
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
        })
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}{}", self.authority(), self.prefix, path)
    }

    /// `host:port`, an IPv6 host in brackets.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `scheme://user:password@host…` with the user information replaced by `***`.
pub fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// How to reach the server beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// PEM file of the CA (or CAs) that signed the server's certificate, trusted instead of
    /// Mozilla's roots (`--ca-cert`).
    pub ca_cert: Option<PathBuf>,
    /// Extra headers sent with every request (`--header K:V`, e.g. a gateway's key).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("no answer within the request timeout")]
    Timeout,
    #[error("connection lost: {0}")]
    Io(io::Error),
    #[error("TLS with {url}: {message}")]
    Tls { url: String, message: String },
    #[error("not an HTTP response: {0}")]
    Protocol(String),
}

/// A client for one server.
pub struct Client {
    agent: ureq::Agent,
    base: BaseUrl,
    headers: Vec<(String, String)>,
    /// The proxy in use, without credentials (for the run's settings).
    proxy: Option<String>,
}

/// A response whose body has not been read yet.
pub struct Response {
    pub status: u16,
    content_type: Option<String>,
    /// Read as it arrives: each `read` returns what the network has. Errors past the
    /// deadline map to [`HttpError::Timeout`] through [`map_io`].
    pub body: ureq::BodyReader<'static>,
}

impl Response {
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Reads the rest of the body, up to `limit` bytes (error bodies, model lists).
    pub fn read_to_string(mut self, limit: usize) -> Result<String, HttpError> {
        let mut buf = Vec::new();
        (&mut self.body)
            .take(limit as u64)
            .read_to_end(&mut buf)
            .map_err(map_io)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

impl Client {
    pub fn new(base: BaseUrl, opts: &ClientOptions) -> Result<Client, String> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &opts.ca_cert {
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(
                read_ca(path)?,
            )));
        }
        let proxy = proxy_for(&base, &|k| std::env::var(k).ok())?;
        let config = ureq::Agent::config_builder()
            // Statuses are answers to read (error bodies carry the server's message).
            .http_status_as_error(false)
            .tls_config(tls.build())
            .proxy(proxy.clone())
            .max_redirects(0)
            .user_agent(format!("medocr/{}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            agent: ureq::Agent::new_with_config(config),
            proxy: proxy.map(|p| redact_userinfo(&p.uri().to_string())),
            base,
            headers: opts.headers.clone(),
        })
    }

    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// The proxy requests go through, if any (no credentials).
    pub fn proxy(&self) -> Option<&str> {
        self.proxy.as_deref()
    }

    /// Sends one request and reads the status line and headers; the whole exchange, body
    /// included, must end within `timeout`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        let url = self.base.url(path);
        let deadline = std::time::Instant::now() + timeout;
        let attempt = || {
            let mut builder = ureq::http::Request::builder().method(method).uri(&url);
            for (k, v) in &self.headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            let request = builder
                .body(body)
                .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let request = self
                .agent
                .configure_request(request)
                .timeout_global(Some(left))
                .build();
            self.agent.run(request)
        };
        // A kept connection the server closed while it sat in the pool can fail on its next
        // request (the close and the reuse cross on the wire): that request goes once more,
        // on a new connection. Nothing of an answer was read, so nothing is counted twice.
        let response = match attempt() {
            Err(ureq::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::UnexpectedEof
                ) =>
            {
                attempt()
            }
            other => other,
        }
        .map_err(|e| from_ureq(e, &url))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.into_body().into_reader();
        Ok(Response {
            status,
            content_type,
            body,
        })
    }
}

/// The CA certificates of a PEM file.
fn read_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("--ca-cert {}: not PEM ({e})", path.display())),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "--ca-cert {}: no certificate in it (expected PEM, -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The proxy for `base` from the environment (`var` reads it), honouring `NO_PROXY`.
fn proxy_for(
    base: &BaseUrl,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ureq::Proxy>, String> {
    let get = |name: &str| {
        var(name)
            .or_else(|| var(&name.to_ascii_lowercase()))
            .filter(|v| !v.trim().is_empty())
    };
    if let Some(no) = get("NO_PROXY") {
        let host = base.host.to_ascii_lowercase();
        let exempt = no.split(',').map(str::trim).any(|e| {
            let e = e.to_ascii_lowercase();
            let e = e.split(':').next().unwrap_or("");
            e == "*"
                || (!e.is_empty()
                    && (host == e.trim_start_matches('.')
                        || host.ends_with(&format!(".{}", e.trim_start_matches('.')))))
        });
        if exempt {
            return Ok(None);
        }
    }
    let scheme_var = if base.https {
        "HTTPS_PROXY"
    } else {
        "HTTP_PROXY"
    };
    let Some((name, value)) = [scheme_var, "ALL_PROXY"]
        .into_iter()
        .find_map(|n| get(n).map(|v| (n, v)))
    else {
        return Ok(None);
    };
    ureq::Proxy::new(&value)
        .map(Some)
        .map_err(|e| format!("{name}={}: not a proxy URL ({e})", redact_userinfo(&value)))
}

/// A ureq error as this client's.
fn from_ureq(e: ureq::Error, url: &str) -> HttpError {
    match e {
        ureq::Error::Timeout(_) => HttpError::Timeout,
        ureq::Error::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            HttpError::Timeout
        }
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => HttpError::Connect {
            url: url.to_string(),
            message: e.to_string(),
        },
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => HttpError::Connect {
            url: url.to_string(),
            message: e.to_string(),
        },
        ureq::Error::Io(e) => HttpError::Io(e),
        e @ (ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_)) => {
            HttpError::Tls {
                url: url.to_string(),
                message: e.to_string(),
            }
        }
        other => HttpError::Protocol(other.to_string()),
    }
}

/// Maps a body read error to [`HttpError::Timeout`] when it is the deadline.
pub fn map_io(e: io::Error) -> HttpError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return HttpError::Timeout,
        _ => {}
    }
    // ureq wraps its own errors (a passed deadline among them) in io errors.
    if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return match ureq::Error::from(e) {
            ureq::Error::Timeout(_) => HttpError::Timeout,
            ureq::Error::Io(e) => HttpError::Io(e),
            other => HttpError::Protocol(other.to_string()),
        };
    }
    HttpError::Io(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// Answers `n` requests on each accepted connection (then closes it), `conns` times;
    /// returns how many connections were accepted.
    fn server(per_conn: usize, conns: usize) -> (u16, std::thread::JoinHandle<usize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            for _ in 0..conns {
                let (s, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(s.try_clone().unwrap());
                let mut s = s;
                for _ in 0..per_conn {
                    // Headers up to the empty line; these requests have no body.
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                            break;
                        }
                    }
                    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .unwrap();
                }
            }
            conns
        });
        (port, handle)
    }

    fn get(client: &Client) -> Result<String, HttpError> {
        client
            .send("GET", "/health", &[], &[], Duration::from_secs(10))
            .and_then(|r| r.read_to_string(100))
    }

    fn client(url: &str) -> Client {
        Client::new(BaseUrl::parse(url).unwrap(), &ClientOptions::default()).unwrap()
    }

    #[test]
    fn a_kept_connection_serves_the_next_request() {
        let (port, server) = server(3, 1);
        let c = client(&format!("http://127.0.0.1:{port}"));
        for _ in 0..3 {
            assert_eq!(get(&c).unwrap(), "ok");
        }
        // One connection answered all three (the server accepts only one).
        assert_eq!(server.join().unwrap(), 1);
    }

    #[test]
    fn a_kept_connection_the_server_closed_is_replaced_without_an_error() {
        // One answer per connection, then the server closes it: every kept connection is
        // stale by the next request, which goes again on a new one.
        let (port, server) = server(1, 3);
        let c = client(&format!("http://127.0.0.1:{port}"));
        for _ in 0..3 {
            assert_eq!(get(&c).unwrap(), "ok");
        }
        assert_eq!(server.join().unwrap(), 3);
    }

    #[test]
    fn nobody_listening_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = client(&format!("http://127.0.0.1:{port}"));
        assert!(
            matches!(get(&c), Err(HttpError::Connect { .. })),
            "{:?}",
            get(&c).err()
        );
    }

    #[test]
    fn base_urls() {
        let u = BaseUrl::parse("http://gpu-7:8000/v1/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.prefix.as_str()),
            ("gpu-7", 8000, "")
        );
        assert_eq!(u.url("/v1/models"), "http://gpu-7:8000/v1/models");
        let u = BaseUrl::parse("http://proxy/ocr").unwrap();
        assert_eq!((u.port, u.prefix.as_str()), (80, "/ocr"));
        let u = BaseUrl::parse("https://api.example.com/v1").unwrap();
        assert_eq!((u.https, u.port), (true, 443));
        assert_eq!(u.url("/v1/models"), "https://api.example.com:443/v1/models");
        assert!(BaseUrl::parse("gpu-7:8000").is_err());
        // Credentials are refused, and the message does not repeat the password.
        let e = BaseUrl::parse("https://user:s3cret@x/v1").unwrap_err();
        assert!(e.contains("--api-key-env") && !e.contains("s3cret"), "{e}");
        let e = BaseUrl::parse("ftp://user:s3cret@x").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn proxies_follow_the_environment_and_no_proxy() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let https = BaseUrl::parse("https://api.example.com").unwrap();
        let plain = BaseUrl::parse("http://gpu-7.cluster.local:8000").unwrap();
        let p = proxy_for(&https, &env(&[("HTTPS_PROXY", "http://proxy:3128")]))
            .unwrap()
            .unwrap();
        assert_eq!((p.host(), p.port()), ("proxy", 3128));
        // HTTPS_PROXY is for https servers; lower case works too.
        assert!(
            proxy_for(&plain, &env(&[("HTTPS_PROXY", "http://proxy:3128")]))
                .unwrap()
                .is_none()
        );
        assert!(
            proxy_for(&plain, &env(&[("http_proxy", "http://proxy:3128")]))
                .unwrap()
                .is_some()
        );
        // NO_PROXY: exact host, a domain suffix, or everything.
        for no in [
            ".cluster.local",
            "gpu-7.cluster.local",
            "*",
            "x, cluster.local",
        ] {
            let vars: &'static [(&'static str, &'static str)] = Box::leak(Box::new([
                ("HTTP_PROXY", "http://proxy:3128"),
                ("NO_PROXY", no),
            ]));
            assert!(proxy_for(&plain, &env(vars)).unwrap().is_none(), "{no}");
        }
        assert!(proxy_for(
            &plain,
            &env(&[
                ("HTTP_PROXY", "http://proxy:3128"),
                ("NO_PROXY", "other.local")
            ])
        )
        .unwrap()
        .is_some());
        let e = proxy_for(&https, &env(&[("HTTPS_PROXY", "http://u:pw@::bad::")])).unwrap_err();
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "not a certificate").unwrap();
        let opts = ClientOptions {
            ca_cert: Some(f),
            ..ClientOptions::default()
        };
        let e = Client::new(BaseUrl::parse("https://x").unwrap(), &opts)
            .err()
            .unwrap();
        assert!(
            e.contains("ca.pem") && e.contains("BEGIN CERTIFICATE"),
            "{e}"
        );
    }
}
