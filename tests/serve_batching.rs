//! Continuous batching in `medocr serve` (issue 21), with the real binary and the built-in
//! model on loopback: a request sent while a long request decodes gets its first token
//! before that request ends, and reads exactly the text it reads alone. The same exchange
//! against `--batching static` shows the opposite (the request waits for the whole batch),
//! so the check can fail.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::start_serve;

fn data_url(png: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

fn png(image: &image::GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The bundled fax pages (200 DPI): the long request reads two whole ones, the short one the
/// top quarter of a third.
fn pages() -> (Vec<String>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/printed");
    let fax = |name: &str| image::open(root.join(name)).unwrap().into_luma8();
    let long = ["prescription-000-fax.png", "diagnosis-000-fax.png"]
        .map(|n| data_url(&png(&fax(n))))
        .to_vec();
    let third = fax("prescription-000-fax.png");
    let (w, h) = third.dimensions();
    // The lower part of the prescription: other lines than the long request's first page.
    let part = image::imageops::crop_imm(&third, 0, h / 2, w, h / 4).to_image();
    (long, data_url(&png(&part)))
}

fn chat_body(urls: &[String]) -> String {
    let mut content: Vec<serde_json::Value> = urls
        .iter()
        .map(|u| serde_json::json!({"type": "image_url", "image_url": {"url": u}}))
        .collect();
    content.push(serde_json::json!({"type": "text", "text": "read"}));
    serde_json::json!({
        "model": "medocr-builtin",
        "messages": [{"role": "user", "content": content}],
        "stream": true,
        "dpi": 200,
    })
    .to_string()
}

/// A streamed answer: the text, when its first token came and when it ended.
struct Streamed {
    text: String,
    first_token: Option<Instant>,
    end: Instant,
}

/// Posts a streaming request and reads its events as they arrive.
fn stream(addr: &str, body: &str) -> Streamed {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    let mut first_token = None;
    for line in BufReader::new(s).lines() {
        let line = line.unwrap();
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        assert!(v.get("error").is_none(), "{data}");
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            if !t.is_empty() {
                first_token.get_or_insert_with(Instant::now);
                text.push_str(t);
            }
        }
    }
    Streamed {
        text,
        first_token,
        end: Instant::now(),
    }
}

/// The short request sent once the long one streams: (long, short).
fn during_long(addr: &str, long: &[String], short: &str) -> (Streamed, Streamed) {
    let (addr2, body) = (addr.to_string(), chat_body(long));
    let started = Instant::now();
    let long = std::thread::spawn(move || stream(&addr2, &body));
    // Late enough that the long request is decoding, well before it can end.
    std::thread::sleep(Duration::from_millis(700));
    let short = stream(addr, &chat_body(&[short.to_string()]));
    let long = long.join().unwrap();
    eprintln!(
        "long request: {:.2} s; short request sent at 0.70 s: first token at {:.2} s, done at {:.2} s",
        (long.end - started).as_secs_f64(),
        (short.first_token.unwrap() - started).as_secs_f64(),
        (short.end - started).as_secs_f64(),
    );
    (long, short)
}

#[test]
fn a_request_joins_a_running_batch_and_reads_as_alone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (long, short) = pages();
    // No prefix cache: the short request's crops must not come from the long one.
    let server = start_serve(
        root,
        &["--prefix-cache-mib", "0", "--batching", "continuous"],
    );
    let alone = stream(&server.addr(), &chat_body(std::slice::from_ref(&short)));
    assert!(!alone.text.is_empty());
    let (l, s) = during_long(&server.addr(), &long, &short);
    assert!(
        s.first_token.unwrap() < l.end,
        "continuous batching: the short request's first token must come before the long one ends"
    );
    assert_eq!(
        s.text, alone.text,
        "joining a running batch changed the text"
    );
    drop(server);

    let server = start_serve(root, &["--prefix-cache-mib", "0", "--batching", "static"]);
    let (l, s) = during_long(&server.addr(), &long, &short);
    assert!(
        s.first_token.unwrap() > l.end,
        "static batching: the short request waits for the long one's batch"
    );
    assert_eq!(s.text, alone.text);
}
