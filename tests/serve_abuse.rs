//! `medocr serve` under hostile clients, on loopback, with bounded loops: every case of
//! issue 18 is refused or survived, the server's peak memory stays under a stated ceiling,
//! and a normal request keeps being answered within its SLO while 300 idle connections,
//! 50 slowloris connections and an oversized upload are in flight. The figures it prints
//! are in docs/serve.md ("Limits").

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::start_serve;

/// The SLO of the normal request below (one small page) while the server is abused.
const SLO: Duration = Duration::from_secs(5);
/// The server's peak resident memory must stay under this (the model is ~0.2 GiB; the
/// memory budget of this server is 256 MiB).
const RSS_CEILING_MIB: u64 = 1024;

/// A PNG data URL of `png`.
fn data_url(png: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// A small page: the top quarter of a bundled fax (200 DPI), a few lines of Korean text.
fn page_png() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fax = image::open(root.join("datasets/printed/prescription-000-fax.png"))
        .unwrap()
        .into_luma8();
    let top = image::imageops::crop_imm(&fax, 0, 0, fax.width(), fax.height() / 4).to_image();
    let mut out = Vec::new();
    top.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A blank 1-bit PNG of `w`×`h`: a few kB that decode to `w`×`h` bytes.
fn blank_bilevel_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::One);
    enc.set_compression(png::Compression::High);
    let mut writer = enc.write_header().unwrap();
    let row = (w as usize).div_ceil(8);
    writer
        .write_image_data(&vec![0xFF; row * h as usize])
        .unwrap();
    writer.finish().unwrap();
    out
}

fn chat_body(urls: &[String], extra: serde_json::Value) -> String {
    let mut content: Vec<serde_json::Value> = urls
        .iter()
        .map(|u| serde_json::json!({"type": "image_url", "image_url": {"url": u}}))
        .collect();
    content.push(serde_json::json!({"type": "text", "text": "read"}));
    let mut body = serde_json::json!({
        "model": "medocr-builtin",
        "messages": [{"role": "user", "content": content}],
    });
    if let serde_json::Value::Object(m) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
    body.to_string()
}

/// Sends `head` + `body` on a new connection and reads the whole answer (the request asks
/// the server to close), within `limit`.
fn exchange(addr: &str, head: &str, body: &[u8], limit: Duration) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn post(addr: &str, body: &str) -> String {
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    exchange(addr, &head, body.as_bytes(), Duration::from_secs(60))
}

fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Peak resident memory of a process (VmHWM), MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

#[test]
fn hostile_clients_are_refused_or_survived() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut server = start_serve(
        root,
        &[
            "--max-connections",
            "400",
            "--header-timeout",
            "2",
            "--body-timeout",
            "2",
            "--write-timeout",
            "2",
            "--memory-budget-mib",
            "256",
            "--max-body-mib",
            "32",
            "--max-request-pixels",
            "60000000",
            "--max-batch",
            "4",
            "--max-queue",
            "1",
        ],
    );
    let addr = server.addr();
    let page = data_url(&page_png());
    let normal = chat_body(std::slice::from_ref(&page), serde_json::json!({"dpi": 200}));
    let timed = |body: &str| {
        let t = Instant::now();
        let r = post(&addr, body);
        (r, t.elapsed())
    };
    let (r, baseline) = timed(&normal);
    assert_eq!(status(&r), 200, "{r}");
    eprintln!("normal request alone: {baseline:?}");

    // 1. A pixel bomb: 60 blank 1-bit 10000×11990 pages (7.2 G pixels) in a 2.4 MB request:
    //    413 from the image headers, before anything is decoded.
    let bomb_page = data_url(&blank_bilevel_png(10_000, 11_990));
    let bomb = chat_body(&vec![bomb_page; 60], serde_json::json!({}));
    assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
    let t = Instant::now();
    let r = post(&addr, &bomb);
    assert_eq!(status(&r), 413, "{r}");
    assert!(
        r.contains("per request") && r.contains("invalid_request_error"),
        "{r}"
    );
    eprintln!("pixel bomb refused in {:?}", t.elapsed());

    // 2. Framing, by hyper: conflicting Content-Length, a signed length.
    let bad = |head: &str| status(&exchange(&addr, head, b"{}", Duration::from_secs(5)));
    assert_eq!(bad("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"), 400);
    assert_eq!(
        bad("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n"),
        400
    );
    // Expect: 100-continue gets its interim answer at once, and a 413 without the body
    // when the declared body is too large.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n", normal.len()).unwrap();
    let t = Instant::now();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 100"), "{line}");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    drop((s, reader));
    let huge = exchange(
        &addr,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000000000\r\n\r\n",
        b"",
        Duration::from_secs(5),
    );
    assert_eq!(status(&huge), 413, "{huge}");
    // Without Expect, the oversized body is read and dropped, so the client reads the 413
    // rather than a reset.
    let big = vec![b'x'; 40 << 20];
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    let r = exchange(&addr, &head, &big, Duration::from_secs(10));
    assert_eq!(status(&r), 413, "{}", &r[..r.len().min(300)]);

    // 3. Protocol: max_tokens ends with "length"; a text-only request has an answer;
    //    Prometheus text at /metrics.
    let r = post(
        &addr,
        &chat_body(
            std::slice::from_ref(&page),
            serde_json::json!({"dpi": 200, "max_tokens": 2, "stream": true, "stream_options": {"include_usage": true, "continuous_usage_stats": true}}),
        ),
    );
    assert!(r.contains("\"finish_reason\":\"length\""), "{r}");
    assert!(r.contains("\"completion_tokens\":2,"), "{r}");
    let r = post(&addr, &serde_json::json!({"model": "medocr-builtin", "messages": [{"role": "user", "content": "ping"}]}).to_string());
    assert_eq!(status(&r), 200, "{r}");
    assert!(r.contains("\"content\":\"\""), "{r}");
    let m = exchange(
        &addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
        Duration::from_secs(5),
    );
    assert!(
        m.contains("medocr:num_requests_running")
            && m.contains("medocr:requests_refused_total{reason=\"too_many_pixels\"} 1"),
        "{m}"
    );

    // 4. Under abuse: 300 idle connections, 50 slowloris connections (a header byte every
    //    500 ms), and an upload that stalls halfway; normal requests go on within the SLO.
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..6 {
        idle.extend((0..50).map(|_| TcpStream::connect(&addr).unwrap()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let slow_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slowloris: Vec<_> = (0..50)
        .map(|_| {
            let (addr, stop) = (addr.clone(), slow_stop.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                let head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                let t = Instant::now();
                for b in head.iter().cycle() {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                // How long the server let it hold the connection.
                t.elapsed()
            })
        })
        .collect();
    let stalled = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            write!(
                s,
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 30000000\r\n\r\n"
            )
            .unwrap();
            s.write_all(&vec![b' '; 1 << 20]).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut under_abuse = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        let (r, took) = timed(&normal);
        assert_eq!(status(&r), 200, "{r}");
        under_abuse.push(took);
    }
    let worst = under_abuse.iter().max().unwrap();
    eprintln!(
        "normal requests under abuse: {} answered, worst {worst:?}",
        under_abuse.len()
    );
    assert!(*worst < SLO, "{worst:?} over the SLO of {SLO:?}");
    let stalled = stalled.join().unwrap();
    assert_eq!(status(&stalled), 408, "{stalled}");
    slow_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let held: Vec<Duration> = slowloris.into_iter().map(|h| h.join().unwrap()).collect();
    let longest = held.iter().max().unwrap();
    eprintln!("slowloris connections held at most {longest:?}");
    assert!(
        *longest < Duration::from_secs(4),
        "a slowloris client held its connection {longest:?}"
    );
    // The idle connections were closed at the header deadline too.
    let mut closed = 0;
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 1];
        if matches!(s.read(&mut buf), Ok(0)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 300, "idle connections closed by the server");

    // 5. The connection cap: beyond --max-connections, 503 at once.
    // In steps, so the listen backlog (128) never overflows and every connection is
    // accepted, not left half-open in the kernel.
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..8 {
        held.extend((0..50).map(|_| TcpStream::connect(&addr).unwrap()));
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let r = exchange(
        &addr,
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"",
        Duration::from_secs(5),
    );
    assert_eq!(status(&r), 503, "{r}");
    assert!(r.to_lowercase().contains("retry-after"), "{r}");
    drop(held);

    // 6. A full queue: one request running, one waiting (--max-queue 1), the rest 503 with
    //    Retry-After at once.
    let first = {
        let (addr, body) = (addr.clone(), normal.clone());
        std::thread::spawn(move || post(&addr, &body))
    };
    std::thread::sleep(Duration::from_millis(150));
    let rest: Vec<_> = (0..5)
        .map(|_| {
            let (addr, body) = (addr.clone(), normal.clone());
            std::thread::spawn(move || post(&addr, &body))
        })
        .collect();
    let mut codes: Vec<u16> = rest
        .into_iter()
        .map(|h| status(&h.join().unwrap()))
        .collect();
    codes.push(status(&first.join().unwrap()));
    codes.sort();
    assert!(
        codes.contains(&503) && codes.iter().filter(|&&c| c == 200).count() >= 2,
        "{codes:?}"
    );
    eprintln!("six requests at once with --max-queue 1: {codes:?}");

    let rss = peak_rss_mib(server.child.id());
    let m = exchange(
        &addr,
        "GET /metrics.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
        Duration::from_secs(5),
    );
    eprintln!(
        "peak RSS {rss} MiB (ceiling {RSS_CEILING_MIB}); {}",
        m.split("\r\n\r\n").nth(1).unwrap_or("")
    );
    assert!(rss < RSS_CEILING_MIB, "peak RSS {rss} MiB");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server is still up"
    );
}
