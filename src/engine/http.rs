//! A minimal blocking HTTP/1.1 client over `std::net`, enough for OpenAI-compatible servers:
//! one request per connection, `Content-Length`, chunked or close-delimited response bodies
//! read as they arrive (streaming), and one deadline for the whole exchange.
//!
//! Plain `http://` only: inference servers are reached inside a cluster or through a
//! TLS-terminating proxy, and a TLS stack would be most of this crate's dependencies.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the server is: `http://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing `/` (empty for the root).
    pub prefix: String,
}

impl BaseUrl {
    /// Parses a base URL. A trailing `/v1` is dropped, so `http://h:8000` and
    /// `http://h:8000/v1` (how vLLM documents it) name the same server.
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some(("https", _)) => {
                return Err(format!(
                    "{url}: https is not supported; reach the server over http inside the cluster or through a local TLS-terminating proxy"
                ))
            }
            _ => return Err(format!("{url}: expected http://host[:port][/path]")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(format!(
                "{url}: credentials in the URL would end up in reports; pass the API key through --api-key-env"
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
            None => 80,
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let prefix = path.trim_end_matches('/');
        let prefix = prefix.strip_suffix("/v1").unwrap_or(prefix);
        Ok(BaseUrl {
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
        })
    }

    /// The URL of `path` (which starts with `/`), for messages.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}{}", self.authority(), self.prefix, path)
    }

    /// `host:port`, an IPv6 host in brackets (for URLs and the `Host` header).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A server's addresses, looked up once and reused. Resolving the host name for every
/// request would put a DNS lookup inside every page's TTFT (a cluster's resolver takes about
/// a millisecond, more with search domains). A connection that fails forgets them, and the
/// name is looked up again at once: a restarted service may have moved.
#[derive(Debug, Default)]
pub struct AddrCache(Mutex<Vec<SocketAddr>>);

impl AddrCache {
    fn get(&self) -> Vec<SocketAddr> {
        self.0.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn set(&self, addrs: Vec<SocketAddr>) {
        if let Ok(mut a) = self.0.lock() {
            *a = addrs;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: io::Error },
    #[error("no answer within the request timeout")]
    Timeout,
    #[error("connection lost: {0}")]
    Io(#[from] io::Error),
    #[error("not an HTTP response: {0}")]
    Protocol(String),
}

/// A response whose body has not been read yet.
pub struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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

/// A connection to the first of the server's addresses that accepts, from the cache when
/// it has them; a failure with cached addresses looks the name up again once.
fn connect(
    base: &BaseUrl,
    cache: &AddrCache,
    path: &str,
    deadline: Instant,
) -> Result<TcpStream, HttpError> {
    let connect_err = |source| HttpError::Connect {
        url: base.url(path),
        source,
    };
    let resolve = || -> Result<Vec<SocketAddr>, HttpError> {
        Ok((base.host.as_str(), base.port)
            .to_socket_addrs()
            .map_err(connect_err)?
            .collect())
    };
    let first = |addrs: &[SocketAddr]| -> Result<TcpStream, HttpError> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in addrs {
            match TcpStream::connect_timeout(addr, remaining(deadline)?) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(connect_err(last))
    };
    let cached = cache.get();
    if !cached.is_empty() {
        if let Ok(stream) = first(&cached) {
            return Ok(stream);
        }
        cache.set(Vec::new());
    }
    let fresh = resolve()?;
    let stream = first(&fresh)?;
    cache.set(fresh);
    Ok(stream)
}

/// Sends one request (`Connection: close`) and reads the status line and headers.
pub fn send(
    base: &BaseUrl,
    addrs: &AddrCache,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    deadline: Instant,
) -> Result<Response, HttpError> {
    let mut stream = connect(base, addrs, path, deadline)?;
    // Small SSE events must not wait for Nagle's algorithm.
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    let mut head = format!(
        "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        base.prefix,
        base.authority(),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(map_io)?;
    stream.write_all(body).map_err(map_io)?;
    stream.flush().map_err(map_io)?;

    let mut reader = BufReader::with_capacity(64 << 10, stream);
    set_deadline(&reader, deadline)?;
    let mut status_line = String::new();
    read_line(&mut reader, &mut status_line)?;
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code
            .parse::<u16>()
            .map_err(|_| HttpError::Protocol(status_line.trim().to_string()))?,
        _ => return Err(HttpError::Protocol(status_line.trim().to_string())),
    };
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        read_line(&mut reader, &mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let framing = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        Framing::Chunked {
            left: 0,
            done: false,
        }
    } else if let Some(n) = find("content-length") {
        Framing::Length(
            n.parse()
                .map_err(|_| HttpError::Protocol(format!("Content-Length: {n}")))?,
        )
    } else {
        Framing::Close
    };
    Ok(Response {
        status,
        headers,
        body: Body {
            reader,
            framing,
            deadline,
        },
    })
}

/// How the end of a body is known.
enum Framing {
    Length(u64),
    /// `left`: bytes left in the current chunk; `done` after the last (empty) chunk.
    Chunked {
        left: u64,
        done: bool,
    },
    Close,
}

/// A response body, read as it arrives; each `read` returns what the network has (it does
/// not wait to fill the buffer), so streamed events are seen as soon as they are sent.
/// Reads past the deadline fail with `ErrorKind::TimedOut`.
pub struct Body {
    reader: BufReader<TcpStream>,
    framing: Framing,
    deadline: Instant,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        set_deadline(&self.reader, self.deadline).map_err(|e| match e {
            HttpError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::TimedOut, other.to_string()),
        })?;
        let n = match &mut self.framing {
            Framing::Length(0) => return Ok(0),
            Framing::Length(left) => {
                let max = buf.len().min(*left as usize);
                let n = self.reader.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                n
            }
            Framing::Close => self.reader.read(buf)?,
            Framing::Chunked { done: true, .. } => return Ok(0),
            Framing::Chunked { left, done } => {
                if *left == 0 {
                    let mut line = String::new();
                    self.reader.read_line(&mut line)?;
                    let size = line.trim().split(';').next().unwrap_or("");
                    *left = u64::from_str_radix(size, 16).map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")
                    })?;
                    if *left == 0 {
                        *done = true;
                        return Ok(0); // trailers are not needed: the connection closes
                    }
                }
                let max = buf.len().min(*left as usize);
                let n = self.reader.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                if *left == 0 {
                    let mut crlf = [0u8; 2];
                    self.reader.read_exact(&mut crlf)?;
                }
                n
            }
        };
        Ok(n)
    }
}

/// Maps a read error to [`HttpError::Timeout`] when it is the deadline.
pub fn map_io(e: io::Error) -> HttpError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout,
        _ => HttpError::Io(e),
    }
}

fn remaining(deadline: Instant) -> Result<Duration, HttpError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(HttpError::Timeout)
    } else {
        Ok(left)
    }
}

fn set_deadline(reader: &BufReader<TcpStream>, deadline: Instant) -> Result<(), HttpError> {
    reader
        .get_ref()
        .set_read_timeout(Some(remaining(deadline)?))?;
    Ok(())
}

fn read_line(reader: &mut BufReader<TcpStream>, line: &mut String) -> Result<(), HttpError> {
    let n = reader.read_line(line).map_err(map_io)?;
    if n == 0 {
        return Err(HttpError::Protocol(
            "the server closed the connection before answering".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_looked_up_once_and_forgotten_when_the_server_is_gone() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).unwrap();
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    .unwrap();
            }
        });
        // A name, not an address, so that there is something to look up.
        let base = BaseUrl::parse(&format!("http://localhost:{port}")).unwrap();
        let cache = AddrCache::default();
        let deadline = || Instant::now() + Duration::from_secs(10);
        let get = |cache: &AddrCache| {
            send(&base, cache, "GET", "/health", &[], &[], deadline())
                .and_then(|r| r.read_to_string(100))
        };
        assert_eq!(get(&cache).unwrap(), "ok");
        let remembered = cache.get();
        assert!(
            remembered.iter().any(|a| a.port() == port),
            "{remembered:?}"
        );
        // The second request uses the remembered address (a cache holding only it works).
        cache.set(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
        assert_eq!(get(&cache).unwrap(), "ok");
        server.join().unwrap();
        // Nobody listens any more: the request fails and the addresses are forgotten.
        assert!(matches!(get(&cache), Err(HttpError::Connect { .. })));
        assert!(cache.get().is_empty());
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
        assert!(BaseUrl::parse("https://x").is_err());
        assert!(BaseUrl::parse("http://user:key@x").is_err());
        assert!(BaseUrl::parse("gpu-7:8000").is_err());
    }
}
