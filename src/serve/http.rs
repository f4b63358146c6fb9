//! The server side of HTTP/1.1, as little as an OpenAI-compatible API needs: persistent
//! connections (a client that reuses its connection saves a TCP handshake per page), bodies
//! by `Content-Length`, JSON answers and a chunked event stream flushed event by event.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// A request read from a connection.
#[derive(Debug)]
pub struct HttpRequest {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub body: Vec<u8>,
    /// Whether the client keeps the connection for another request: HTTP/1.1 without
    /// `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    pub keep_alive: bool,
}

/// A client connection and how the current response ends it.
pub struct Conn {
    pub stream: TcpStream,
    /// Whether the connection stays open after this response.
    pub keep_alive: bool,
    /// Whether the last response was written whole (so another may follow it).
    pub complete: bool,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            keep_alive: false,
            complete: false,
        }
    }

    fn connection_header(&self) -> &'static str {
        if self.keep_alive {
            "Connection: keep-alive\r\n"
        } else {
            "Connection: close\r\n"
        }
    }
}

/// Why a request could not be read; `status` is what to answer (if anything can be).
#[derive(Debug)]
pub struct BadRequest {
    pub status: u16,
    pub message: String,
}

fn bad(status: u16, message: impl Into<String>) -> BadRequest {
    BadRequest {
        status,
        message: message.into(),
    }
}

/// Reads the request line, headers and body (at most `max_body` bytes); `None` when the
/// client closed the connection instead of sending another request.
pub fn read_request(
    reader: &mut BufReader<TcpStream>,
    max_body: usize,
) -> Result<Option<HttpRequest>, BadRequest> {
    let mut line = String::new();
    let n = match reader.by_ref().take(64 << 10).read_line(&mut line) {
        Ok(n) => n,
        // An idle kept-alive connection timing out (or reset) before a new request began is
        // closed without an answer: nobody asked anything.
        Err(_) if line.is_empty() => return Ok(None),
        Err(e) => return Err(bad(400, format!("reading the request: {e}"))),
    };
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with('\n') {
        return Err(bad(400, "the request ended early"));
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(bad(400, "malformed request line"));
    };
    let mut keep_alive = parts.next() != Some("HTTP/1.0");
    let (method, path) = (
        method.to_string(),
        target.split('?').next().unwrap_or("").to_string(),
    );
    let mut length = 0usize;
    for _ in 0..100 {
        let mut h = String::new();
        read_line(reader, &mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            let body = read_body(reader, length, max_body)?;
            return Ok(Some(HttpRequest {
                method,
                path,
                body,
                keep_alive,
            }));
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                length = v
                    .parse()
                    .map_err(|_| bad(400, format!("bad Content-Length '{v}'")))?;
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                return Err(bad(411, "send the body with a Content-Length"));
            } else if k.eq_ignore_ascii_case("connection") {
                let has = |t: &str| v.split(',').any(|o| o.trim().eq_ignore_ascii_case(t));
                if has("close") {
                    keep_alive = false;
                } else if has("keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    Err(bad(431, "too many headers"))
}

fn read_body(
    reader: &mut BufReader<TcpStream>,
    length: usize,
    max_body: usize,
) -> Result<Vec<u8>, BadRequest> {
    if length > max_body {
        return Err(bad(
            413,
            format!("the body is {length} bytes, over the limit of {max_body}"),
        ));
    }
    let mut body = vec![0u8; length];
    reader
        .read_exact(&mut body)
        .map_err(|e| bad(400, format!("reading the body: {e}")))?;
    Ok(body)
}

fn read_line(reader: &mut BufReader<TcpStream>, line: &mut String) -> Result<(), BadRequest> {
    // Bounded so a client cannot grow one line without end.
    let n = reader
        .by_ref()
        .take(64 << 10)
        .read_line(line)
        .map_err(|e| bad(400, format!("reading the request: {e}")))?;
    if n == 0 || !line.ends_with('\n') {
        return Err(bad(400, "the request ended early"));
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// A whole response with a JSON body.
pub fn write_json(conn: &mut Conn, status: u16, body: &str) -> io::Result<()> {
    conn.complete = false;
    // One write: with TCP_NODELAY every write is a packet.
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
        reason(status),
        body.len(),
        conn.connection_header(),
    );
    conn.stream.write_all(response.as_bytes())?;
    conn.stream.flush()?;
    conn.complete = true;
    Ok(())
}

/// A `text/event-stream` response: each event is one HTTP chunk, written and flushed at
/// once (the stream has `TCP_NODELAY`), so a token reaches the client when it is made.
pub struct EventStream<'a> {
    conn: &'a mut Conn,
}

impl<'a> EventStream<'a> {
    /// Writes the head; `extra` headers are `(name, value)`.
    pub fn start(conn: &'a mut Conn, extra: &[(&str, String)]) -> io::Result<Self> {
        conn.complete = false;
        let mut head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n{}",
            conn.connection_header()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        conn.stream.write_all(head.as_bytes())?;
        Ok(EventStream { conn })
    }

    /// One `data:` event (`data` must not contain a newline; JSON from serde has none).
    pub fn data(&mut self, data: &str) -> io::Result<()> {
        let event = format!("data: {data}\n\n");
        let chunk = format!("{:x}\r\n{event}\r\n", event.len());
        self.conn.stream.write_all(chunk.as_bytes())?;
        self.conn.stream.flush()
    }

    /// The last chunk: the response is whole.
    pub fn finish(self) -> io::Result<()> {
        self.conn.stream.write_all(b"0\r\n\r\n")?;
        self.conn.stream.flush()?;
        self.conn.complete = true;
        Ok(())
    }
}
