//! A minimal blocking HTTP/1.1 client over `std::net`, enough for OpenAI-compatible servers:
//! `Content-Length`, chunked or close-delimited response bodies read as they arrive
//! (streaming), one deadline for the whole exchange, and the connection kept for the next
//! request when the server allows it (a new connection would put a TCP handshake, one
//! network round trip, inside every page's TTFT).
//!
//! Plain `http://` only: inference servers are reached inside a cluster or through a
//! TLS-terminating proxy, and a TLS stack would be most of this crate's dependencies.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
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

/// What a client keeps between requests to one server: its addresses, looked up once, and
/// the connection of the last exchange if the server left it open.
///
/// Resolving the host name for every request would put a DNS lookup inside every page's
/// TTFT (a cluster's resolver is a network round trip away, several with search domains). A
/// connection that fails forgets the addresses, and the name is looked up again at once: a
/// restarted service may have moved.
#[derive(Debug, Default)]
pub struct Connections {
    addrs: Mutex<Vec<SocketAddr>>,
    idle: Mutex<Option<TcpStream>>,
}

impl Connections {
    fn addrs(&self) -> Vec<SocketAddr> {
        self.addrs.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn set_addrs(&self, addrs: Vec<SocketAddr>) {
        if let Ok(mut a) = self.addrs.lock() {
            *a = addrs;
        }
    }

    fn take_idle(&self) -> Option<TcpStream> {
        self.idle.lock().ok().and_then(|mut c| c.take())
    }

    fn put_idle(&self, stream: TcpStream) {
        if let Ok(mut c) = self.idle.lock() {
            *c = Some(stream);
        }
    }

    /// Whether a connection is waiting for the next request (for tests).
    pub fn has_idle(&self) -> bool {
        self.idle.lock().map(|c| c.is_some()).unwrap_or(false)
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
    cache: &Connections,
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
    let cached = cache.addrs();
    if !cached.is_empty() {
        if let Ok(stream) = first(&cached) {
            return Ok(stream);
        }
        cache.set_addrs(Vec::new());
    }
    let fresh = resolve()?;
    let stream = first(&fresh)?;
    cache.set_addrs(fresh);
    Ok(stream)
}

/// Sends one request and reads the status line and headers, on the connection the last
/// exchange left open if there is one (the body, read to its end, hands it back).
pub fn send(
    base: &BaseUrl,
    conns: &Arc<Connections>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    deadline: Instant,
) -> Result<Response, HttpError> {
    let mut head = format!(
        "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\nContent-Length: {}\r\n",
        base.prefix,
        base.authority(),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let request = [head.as_bytes(), body];
    if let Some(stream) = conns.take_idle() {
        match exchange(stream, conns, &request, deadline) {
            // The server closed the kept connection meanwhile (idle timeout, restart): it
            // answered nothing, so the request goes again on a new connection.
            Err(Exchange::Unanswered(_)) => {}
            Err(Exchange::Failed(e)) => return Err(e),
            Ok(response) => return Ok(response),
        }
    }
    let stream = connect(base, conns, path, deadline)?;
    exchange(stream, conns, &request, deadline).map_err(|e| match e {
        Exchange::Unanswered(e) | Exchange::Failed(e) => e,
    })
}

/// Why an exchange failed: before any byte of an answer arrived (a reused connection may
/// simply have been closed by the server), or later.
enum Exchange {
    Unanswered(HttpError),
    Failed(HttpError),
}

/// Writes the request (its head, then its body) on `stream` and reads the status line and
/// headers.
fn exchange(
    mut stream: TcpStream,
    conns: &Arc<Connections>,
    request: &[&[u8]; 2],
    deadline: Instant,
) -> Result<Response, Exchange> {
    let unanswered = |e: HttpError| match e {
        HttpError::Timeout => Exchange::Failed(e),
        other => Exchange::Unanswered(other),
    };
    let failed = Exchange::Failed;
    // Small SSE events must not wait for Nagle's algorithm.
    stream.set_nodelay(true).map_err(|e| failed(e.into()))?;
    let left = remaining(deadline).map_err(failed)?;
    stream
        .set_write_timeout(Some(left))
        .map_err(|e| failed(e.into()))?;
    let write = |stream: &mut TcpStream| -> Result<(), HttpError> {
        for part in request {
            stream.write_all(part).map_err(map_io)?;
        }
        stream.flush().map_err(map_io)
    };
    write(&mut stream).map_err(unanswered)?;

    let mut reader = BufReader::with_capacity(64 << 10, stream);
    set_deadline(&reader, deadline).map_err(failed)?;
    let mut status_line = String::new();
    read_line(&mut reader, &mut status_line).map_err(unanswered)?;
    let mut parts = status_line.split_whitespace();
    let (version, status) = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => (
            v.to_string(),
            code.parse::<u16>()
                .map_err(|_| failed(HttpError::Protocol(status_line.trim().to_string())))?,
        ),
        _ => return Err(failed(HttpError::Protocol(status_line.trim().to_string()))),
    };
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        read_line(&mut reader, &mut line).map_err(failed)?;
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
                .map_err(|_| failed(HttpError::Protocol(format!("Content-Length: {n}"))))?,
        )
    } else {
        Framing::Close
    };
    let close = find("connection")
        .is_some_and(|v| v.split(',').any(|o| o.trim().eq_ignore_ascii_case("close")));
    // The connection can serve another request once this body is read to its end.
    let keep = version == "HTTP/1.1" && !close && !matches!(framing, Framing::Close);
    Ok(Response {
        status,
        headers,
        body: Body {
            reader,
            framing,
            deadline,
            reuse: keep.then(|| conns.clone()),
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
    /// Where the connection goes back once the body has been read to its end (a keep-alive
    /// response); `None` once it has, or when the server closes it.
    reuse: Option<Arc<Connections>>,
}

impl Body {
    /// Reads what is left of the body, for at most `limit`, so that the connection can be
    /// reused (after `[DONE]` a server still sends the chunked body's last chunk). Anything
    /// that does not end in time is dropped with its connection.
    pub fn finish_within(&mut self, limit: Duration) {
        if self.reuse.is_none() {
            return; // the connection will not be reused: nothing to wait for
        }
        self.deadline = self.deadline.min(Instant::now() + limit);
        let mut sink = [0u8; 4096];
        for _ in 0..16 {
            match self.read(&mut sink) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// The body ended as its framing says: hand the connection back for the next request,
    /// unless the server sent more than this response (nothing may follow unasked).
    fn ended(&mut self) {
        if let Some(conns) = self.reuse.take() {
            if self.reader.buffer().is_empty() {
                if let Ok(stream) = self.reader.get_ref().try_clone() {
                    conns.put_idle(stream);
                }
            }
        }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        set_deadline(&self.reader, self.deadline).map_err(|e| match e {
            HttpError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::TimedOut, other.to_string()),
        })?;
        let n = match &mut self.framing {
            Framing::Length(0) => {
                self.ended();
                return Ok(0);
            }
            Framing::Length(left) => {
                let max = buf.len().min(*left as usize);
                let n = self.reader.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                if *left == 0 {
                    self.ended();
                }
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
                        // Trailers (none are needed) up to the empty line that ends them.
                        loop {
                            let mut trailer = String::new();
                            if self.reader.read_line(&mut trailer)? == 0
                                || trailer.trim_end().is_empty()
                            {
                                break;
                            }
                        }
                        *done = true;
                        self.ended();
                        return Ok(0);
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

    fn get(base: &BaseUrl, conns: &Arc<Connections>) -> Result<String, HttpError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        send(base, conns, "GET", "/health", &[], &[], deadline).and_then(|r| r.read_to_string(100))
    }

    #[test]
    fn a_kept_connection_serves_the_next_request() {
        let (port, server) = server(3, 1);
        let base = BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let conns = Arc::new(Connections::default());
        for _ in 0..3 {
            assert_eq!(get(&base, &conns).unwrap(), "ok");
            assert!(
                conns.has_idle(),
                "the body was read whole: the connection is kept"
            );
        }
        // One connection answered all three (the server accepts only one).
        assert_eq!(server.join().unwrap(), 1);
    }

    #[test]
    fn a_kept_connection_the_server_closed_is_replaced_without_an_error() {
        // One answer per connection, then the server closes it: every kept connection is
        // stale by the next request, which goes again on a new one.
        let (port, server) = server(1, 3);
        let base = BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let conns = Arc::new(Connections::default());
        for _ in 0..3 {
            assert_eq!(get(&base, &conns).unwrap(), "ok");
        }
        assert_eq!(server.join().unwrap(), 3);
    }

    #[test]
    fn addresses_are_looked_up_once_and_forgotten_when_the_server_is_gone() {
        let (port, server) = server(1, 2);
        // A name, not an address, so that there is something to look up.
        let base = BaseUrl::parse(&format!("http://localhost:{port}")).unwrap();
        let conns = Arc::new(Connections::default());
        assert_eq!(get(&base, &conns).unwrap(), "ok");
        let remembered = conns.addrs();
        assert!(
            remembered.iter().any(|a| a.port() == port),
            "{remembered:?}"
        );
        // The next connection uses the remembered address (a cache holding only it works).
        conns.set_addrs(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
        conns.take_idle();
        assert_eq!(get(&base, &conns).unwrap(), "ok");
        server.join().unwrap();
        // Nobody listens any more: the request fails and the addresses are forgotten.
        conns.take_idle();
        assert!(matches!(get(&base, &conns), Err(HttpError::Connect { .. })));
        assert!(conns.addrs().is_empty());
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
