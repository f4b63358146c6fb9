//! The fuzz targets' bodies, shared by the cargo-fuzz binaries (`fuzz_targets/*.rs`) and
//! the bounded stable-Rust driver `tests/fuzz_smoke.rs`, so CI runs exactly what a
//! fuzzing session runs. Each target parses or scores arbitrary bytes and asserts the
//! invariants the rest of medocr relies on; a panic is a finding.

// Each includer uses only some of the targets.
#![allow(dead_code)]

use medocr::dataset::Dataset;
use medocr::engine::sse::SseParser;
use medocr::score::distance::{align, distance, Alignment, OpKind, Symbol};
use medocr::score::{
    canonicalize, cer, normalize, order_score, table_score, wer, NormOptions, OutputFormat,
};
use medocr::sla::Profile;
use std::path::Path;

/// A target's body.
pub type Target = fn(&[u8]);

/// All targets by name (the names of `fuzz_targets/*.rs` and `corpus/*/`).
pub const TARGETS: [(&str, Target); 7] = [
    ("manifest", manifest),
    ("profile", profile),
    ("normalize", normalize_text),
    ("align", align_symbols),
    ("sse", sse),
    ("answer", answer),
    ("chat_request", chat_request),
];

/// A `medocr serve` request body (hyper has framed it): parsed as a chat completion, its
/// token limit read, its images inspected against small limits and decoded when they fit.
/// Never panics; what `inspect` lets through decodes to pages of the sizes it announced,
/// within the limits.
pub fn chat_request(data: &[u8]) {
    use medocr::serve::api::{decode, inspect, ChatRequest, ImageLimits};
    let Ok(request) = serde_json::from_slice::<ChatRequest>(data) else {
        return;
    };
    let _ = request.token_limit();
    let limits = ImageLimits {
        max_pixels: 1 << 16,
        max_images: 4,
        max_request_pixels: 1 << 17,
    };
    let Ok(images) = inspect(&request, &limits) else {
        return;
    };
    assert!(images.len() <= limits.max_images);
    let sizes: Vec<(u32, u32)> = images.iter().map(|i| (i.width, i.height)).collect();
    let total: u64 = images.iter().map(|i| i.pixels()).sum();
    assert!(total <= limits.max_request_pixels);
    if let Ok(pages) = decode(images, request.dpi, 300.0) {
        for (p, (w, h)) in pages.iter().zip(sizes) {
            assert_eq!(
                (p.image.width(), p.image.height()),
                (w, h),
                "decoded size differs from the header's"
            );
            assert!(p.dpi.is_finite() && p.dpi > 0.0);
        }
    }
}

/// A VLM's answer (the second half of the input; the first half is the reference) read as
/// Markdown, HTML and auto: never panics; a converted answer has no empty line, one read as
/// text stays as it is; the order and table scores stay in their ranges.
pub fn answer(data: &[u8]) {
    // Each input is matched line by line three times (about 20 ms at 2 kB without
    // sanitizers, seconds with ASan and coverage): short inputs keep libFuzzer exploring.
    let data = &data[..data.len().min(1024)];
    let text = String::from_utf8_lossy(data);
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (reference, answer) = text.split_at(mid);
    assert_eq!(canonicalize(&text, OutputFormat::Text).text, text);
    for format in [
        OutputFormat::Markdown,
        OutputFormat::Html,
        OutputFormat::Auto,
    ] {
        let c = canonicalize(answer, format);
        assert_ne!(c.format, OutputFormat::Auto);
        if c.format == OutputFormat::Text {
            assert_eq!(c.text, answer, "auto changed a plain answer");
        } else {
            assert!(
                c.text.lines().all(|l| !l.trim().is_empty()),
                "empty line in {:?}",
                c.text
            );
        }
        for t in &c.tables {
            for row in &t.rows {
                for cell in row {
                    assert!(!cell.text.contains('\n') && cell.colspan >= 1 && cell.rowspan >= 1);
                }
            }
        }
        let norm = NormOptions::default();
        if let Some(s) = order_score(reference, &c.text, &norm) {
            assert!(s.rate.is_none_or(|r| r >= 0.0));
            assert!(s.reading_order.is_none_or(|r| (0.0..=1.0).contains(&r)));
            assert!(s.discordant <= s.pairs);
        }
        let reference_tables: Vec<Vec<Vec<String>>> = canonicalize(reference, format)
            .tables
            .iter()
            .map(|t| {
                t.rows
                    .iter()
                    .map(|r| r.iter().map(|c| c.text.clone()).collect())
                    .collect()
            })
            .collect();
        if let Some(s) = table_score(&reference_tables, &c.tables, &norm) {
            assert!(
                s.teds.is_some_and(|t| (-1e-9..=1.0 + 1e-9).contains(&t)),
                "{s:?}"
            );
            assert!(s.cells_correct <= s.cells);
        }
    }
}

/// The manifest parser: never panics; every line is a document or an issue naming it.
pub fn manifest(data: &[u8]) {
    let path = Path::new("fuzz/manifest.jsonl");
    let lines = data.split(|&b| b == b'\n').count();
    match Dataset::parse(data, path) {
        Ok(ds) => {
            assert!(!ds.documents.is_empty());
            let mut ids = std::collections::HashSet::new();
            for d in &ds.documents {
                assert!(!d.id.trim().is_empty(), "empty id accepted");
                assert!(ids.insert(d.id.clone()), "duplicate id {} accepted", d.id);
            }
            for issue in &ds.issues {
                assert!(
                    (1..=lines).contains(&issue.line),
                    "issue on line {} of {lines}",
                    issue.line
                );
                assert!(!issue.message.is_empty());
            }
            let rejected = ds.issues.iter().filter(|i| i.rejected).count();
            assert!(ds.documents.len() + rejected <= lines);
            assert_eq!(ds.manifest_sha256.len(), 64);
        }
        Err(e) => assert!(e.to_string().contains("manifest.jsonl"), "{e}"),
    }
}

/// The profile parser: never panics; a profile it accepts survives a TOML round trip.
pub fn profile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("profiles/fuzz.toml");
    match Profile::parse(text, path) {
        Ok(p) => {
            let again = toml::to_string(&p).expect("a parsed profile serialises");
            let back = Profile::parse(&again, path).expect("a serialised profile parses");
            assert_eq!(back, p, "round trip changed the profile");
        }
        Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
    }
}

/// The streaming HTTP engine's event-stream parser: the network may cut the body
/// anywhere, so feeding it in pieces (the first byte picks their size) must give the same
/// events as feeding it whole, and an error either way.
pub fn sse(data: &[u8]) {
    let Some((&k, body)) = data.split_first() else {
        return;
    };
    let whole = SseParser::new().feed(body);
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    let mut failed = false;
    for piece in body.chunks(1 + usize::from(k) % 17) {
        match parser.feed(piece) {
            Ok(e) => events.extend(e),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    match whole {
        Ok(w) => {
            assert!(!failed, "an error only when fed in pieces");
            assert_eq!(events, w, "pieces gave other events");
        }
        Err(e) => assert!(failed, "{e} only when fed whole"),
    }
}

/// N1 normalisation: idempotent, single spaces only, nothing leading or trailing.
pub fn normalize_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for fold in [false, true] {
        let opts = NormOptions {
            fold_fullwidth: fold,
        };
        let n = normalize(&text, &opts);
        assert_eq!(normalize(&n, &opts), n, "not idempotent on {text:?}");
        assert!(!n.starts_with(' ') && !n.ends_with(' '), "{n:?}");
        assert!(!n.contains("  "), "{n:?}");
        assert!(
            n.chars()
                .all(|c| c == ' ' || !medocr::score::normalize::is_space(c)),
            "{n:?}"
        );
        // A text against itself has no errors, whatever it is.
        let s = cer(&text, &text, &opts);
        assert_eq!(s.edits(), 0);
        assert_eq!(wer(&text, &text, &opts).edits(), 0);
    }
}

/// The aligner: the first byte splits the input into reference and hypothesis, bytes
/// mapped to a small alphabet (so symbols repeat). The alignment must be optimal
/// (equal to the distance), bounded, and replay the reference into the hypothesis.
pub fn align_symbols(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let rest = &rest[..rest.len().min(4096)];
    let cut = (split as usize * rest.len()) / 255;
    let alphabet = 2 + u32::from(split % 7);
    let to_syms = |b: &[u8]| {
        b.iter()
            .map(|&x| u32::from(x) % alphabet)
            .collect::<Vec<_>>()
    };
    let (a, b) = (to_syms(&rest[..cut]), to_syms(&rest[cut..]));
    check_alignment(&a, &b);
}

/// The invariants of an alignment of `a` onto `b`.
pub fn check_alignment(a: &[Symbol], b: &[Symbol]) {
    let al = align(a, b);
    let d = distance(a, b);
    assert_eq!(al.distance(), d, "alignment is not optimal");
    assert_eq!(distance(b, a), d, "distance is not symmetric");
    assert!(d <= a.len().max(b.len()), "edits above the longer length");
    assert!(d >= a.len().abs_diff(b.len()));
    assert_eq!(replay(&al, a, b), b, "alignment does not replay");
}

/// Applies an alignment's ops to the reference, checking every op against both sides;
/// returns the hypothesis it builds.
pub fn replay(al: &Alignment, a: &[Symbol], b: &[Symbol]) -> Vec<Symbol> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(b.len());
    for op in &al.ops {
        assert_eq!((op.ref_pos, op.hyp_pos), (i, j), "ops out of order");
        match op.kind {
            OpKind::Match => {
                assert_eq!(a[i], b[j]);
                out.push(a[i]);
                i += 1;
                j += 1;
            }
            OpKind::Sub => {
                assert_ne!(a[i], b[j], "a substitution of equal symbols");
                out.push(b[j]);
                i += 1;
                j += 1;
            }
            OpKind::Del => i += 1,
            OpKind::Ins => {
                out.push(b[j]);
                j += 1;
            }
        }
    }
    assert_eq!((i, j), (a.len(), b.len()), "ops do not cover both sides");
    out
}
