//! The openai engine against a hosted-style HTTPS endpoint: a local TLS server (rustls) with
//! a certificate made here by a test CA (rcgen), reached through `medocr run --base-url
//! https://… --ca-cert`, with a gateway header.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

mod common;
use common::{bundled_document, read_request, text};

/// A CA and a `localhost` certificate it signed: (CA PEM, server chain, server key).
fn certificates() -> (
    String,
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "medocr test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    (ca.pem(), vec![leaf.der().clone()], key_der)
}

/// What the server saw.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
}

/// Serves HTTPS on a free port until the process ends: `GET /v1/models` and streamed chat
/// completions answering `answer`.
fn serve(answer: String) -> (u16, Arc<Mutex<Seen>>, String) {
    let (ca_pem, chain, key) = certificates();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let (config, log, answer) = (config.clone(), log.clone(), answer.clone());
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                // Keep-alive: requests one after another on this connection.
                while let Some((head, _body)) = read_request(&mut tls) {
                    log.lock().unwrap().requests.push(head.clone());
                    let reply = if head.starts_with("GET /v1/models") {
                        let body = r#"{"object":"list","data":[{"id":"hosted-vlm"}]}"#;
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    } else {
                        let mut events = String::new();
                        for line in answer.split_inclusive('\n') {
                            let chunk = serde_json::json!({
                                "choices": [{"index": 0, "delta": {"content": line}}]
                            });
                            events.push_str(&format!("data: {chunk}\n\n"));
                        }
                        events.push_str(
                            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":900,\"completion_tokens\":42}}\n\ndata: [DONE]\n\n",
                        );
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{events}",
                            events.len()
                        )
                    };
                    let tls = tls.get_mut();
                    if tls.write_all(reply.as_bytes()).is_err() || tls.flush().is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen, ca_pem)
}

#[test]
fn openai_engine_reads_a_hosted_https_endpoint_with_a_private_ca_and_a_gateway_header() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // One document (the first prescription, a PDF), its source made absolute.
    let (data, doc) = bundled_document(tmp.path(), "prescription");

    let (port, seen, ca_pem) = serve(doc["text"].as_str().unwrap().to_string());
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let url = format!("https://localhost:{port}/v1");
    let reports = tmp.path().join("reports");
    let run = |id: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--engine",
            "openai",
            "--base-url",
            url.as_str(),
            "--dataset",
            data.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            id,
            "--dpi",
            "72",
            "--quiet",
            "--request-timeout",
            "30",
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_medocr"))
            .args(&args)
            .current_dir(root)
            .env("MEDOCR_TEST_GATEWAY_KEY", "gw-secret-123")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .output()
            .unwrap()
    };

    // Without the CA the certificate is not trusted: the run cannot start, and says why.
    let o = run("untrusted", &[]);
    assert!(!o.status.success());
    let out = text(&o);
    assert!(
        out.contains("https://localhost") && out.to_lowercase().contains("certificate"),
        "{out}"
    );

    let o = run(
        "hosted",
        &[
            "--ca-cert",
            ca.to_str().unwrap(),
            "--header",
            "X-Gateway-Key: env:MEDOCR_TEST_GATEWAY_KEY",
            "--header",
            "X-Route: ocr",
        ],
    );
    let out = text(&o);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{out}");
    let summary = std::fs::read_to_string(reports.join("hosted/summary.json")).unwrap();
    let s: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(s["totals"]["failed"], 0, "{summary}");
    assert_eq!(s["totals"]["cer"]["rate"], 0.0, "{summary}");
    assert_eq!(s["config"]["engine"]["version"], "hosted-vlm");
    assert_eq!(
        s["config"]["engine"]["settings"]["headers"],
        "X-Gateway-Key, X-Route"
    );
    // The gateway headers reached the server; their values are in no report.
    let requests = seen.lock().unwrap().requests.join("\n").to_lowercase();
    assert!(
        requests.contains("x-gateway-key: gw-secret-123"),
        "{requests}"
    );
    assert!(requests.contains("x-route: ocr"), "{requests}");
    for f in [
        "summary.json",
        "report.md",
        "documents.csv",
        "predictions.jsonl",
    ] {
        let body = std::fs::read_to_string(reports.join("hosted").join(f)).unwrap();
        assert!(
            !body.contains("gw-secret-123"),
            "{f} leaks the header value"
        );
    }
}
