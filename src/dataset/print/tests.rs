//! Layout and HTML tests (no browser): ground-truth rules, fonts, determinism.

use std::sync::OnceLock;

use super::layout::join_cells;
use super::*;
use crate::dataset::font_pool::{self, is_reserved_family, Role};

fn library(role: Role) -> &'static FontLibrary {
    static HELD: OnceLock<FontLibrary> = OnceLock::new();
    static TRAIN: OnceLock<FontLibrary> = OnceLock::new();
    let cell = if role == Role::HeldOut { &HELD } else { &TRAIN };
    cell.get_or_init(|| {
        FontLibrary::load(Path::new(synth::DEFAULT_FONT_DIR), role)
            .expect("the pool's fonts are installed (bash scripts/setup.sh)")
    })
}

#[test]
fn cells_are_joined_by_one_space() {
    assert_eq!(
        join_cells(["환자 성명", " 홍길동 ", "", "의료기관"]),
        "환자 성명 홍길동 의료기관"
    );
    assert_eq!(join_cells(["", ""]), "");
}

#[test]
fn ground_truth_follows_the_dataset_rules_for_every_type() {
    for role in [Role::HeldOut, Role::Training] {
        let lib = library(role);
        for t in DocType::ALL {
            for seed in 0..6u64 {
                let p = printout(t, synth::document_seed(seed, t, 0), lib).unwrap();
                let id = format!("{t}/{seed}/{role:?}");
                assert!(!p.text.is_empty(), "{id}");
                for line in p.text.lines() {
                    assert!(!line.is_empty(), "{id}: empty line");
                    assert_eq!(line.trim(), line, "{id}: '{line}'");
                    assert!(!line.contains("  "), "{id}: double space in '{line}'");
                }
                assert_eq!(p.pages.iter().flatten().count(), p.text.lines().count());
                truth::check_fields(&id, &p.text, &p.doc.fields).unwrap();
                // Every page has its footer's page number.
                let total = p.pages.len();
                for (i, page) in p.pages.iter().enumerate() {
                    let last = page.last().unwrap();
                    let n = format!("{}", i + 1);
                    assert!(
                        page.iter().rev().take(2).any(|l| l.contains(&n)),
                        "{id}: page {} of {total} ends '{last}'",
                        i + 1
                    );
                }
                if t == DocType::DischargeSummary {
                    assert!(
                        p.pages.len() >= 2,
                        "{id}: discharge summaries span two pages"
                    );
                }
                assert!(p.pages.len() <= 4, "{id}: {} pages", p.pages.len());
            }
        }
    }
}

#[test]
fn fonts_come_from_the_role_and_cover_the_text() {
    for role in [Role::HeldOut, Role::Training] {
        let lib = library(role);
        let families = font_pool::families(role);
        for t in DocType::ALL {
            for seed in 0..4u64 {
                let p = printout(t, seed, lib).unwrap();
                let f = &p.sheet.fonts;
                for css in [Some(&f.regular), f.bold.as_ref(), Some(&f.hand)]
                    .into_iter()
                    .flatten()
                {
                    for fam in css.split(',').map(|s| s.trim().trim_matches('"')) {
                        assert!(families.contains(&fam), "{fam} is not a {role:?} family");
                        assert!(!is_reserved_family(fam));
                    }
                }
                // The regular stack covers every printed character.
                let stack = lib.stack(
                    lib.families()
                        .into_iter()
                        .find(|x| *x == f.body_family)
                        .unwrap(),
                    400,
                    &p.text.chars().filter(|c| *c != '\n').collect(),
                );
                assert!(
                    stack.is_some(),
                    "{t} {seed}: {} lacks glyphs",
                    f.body_family
                );
                for name in &f.ps_names {
                    assert!(!fonts::is_reserved_ps_name(name), "{name}");
                }
            }
        }
    }
}

#[test]
fn same_seed_same_printout_and_html_is_escaped() {
    let lib = library(Role::HeldOut);
    let a = printout(DocType::LabResult, 7, lib).unwrap();
    let b = printout(DocType::LabResult, 7, lib).unwrap();
    assert_eq!(a.html, b.html);
    assert_eq!(a.text, b.text);
    let c = printout(DocType::LabResult, 8, lib).unwrap();
    assert_ne!(a.html, c.html);
    // Reference ranges such as `<0.50` are escaped in the HTML.
    let all: String = (0..6)
        .map(|s| printout(DocType::LabResult, s, lib).unwrap().html)
        .collect();
    assert!(all.contains("&lt;") || all.contains("&gt;"));
    assert!(!all.contains("<0.") && !all.contains(">60<"));
    assert_eq!(
        html::escape("a<b & \"c\">"),
        "a&lt;b &amp; &quot;c&quot;&gt;"
    );
}

#[test]
fn same_content_as_the_pdf_toolchain() {
    let lib = library(Role::HeldOut);
    let seed = synth::document_seed(0, DocType::Prescription, 0);
    let p = printout(DocType::Prescription, seed, lib).unwrap();
    let d = synth::document(DocType::Prescription, seed);
    assert_eq!(p.doc.fields, d.fields);
    for drug in &d.fields.drugs {
        assert!(p.text.contains(&drug.name));
    }
}

/// Writes sample HTML files for a look in a browser:
/// `cargo test --release --lib dataset::print::tests::write_html -- --ignored`.
#[test]
#[ignore]
fn write_html() {
    let dir = std::env::var("MEDOCR_PRINT_SAMPLE").unwrap_or_else(|_| "target/print-sample".into());
    std::fs::create_dir_all(&dir).unwrap();
    let lib = library(Role::HeldOut);
    for t in DocType::ALL {
        for i in 0..2 {
            let p = printout(t, synth::document_seed(0, t, i), lib).unwrap();
            std::fs::write(format!("{dir}/{t}-{i:03}.html"), &p.html).unwrap();
            std::fs::write(format!("{dir}/{t}-{i:03}.txt"), &p.text).unwrap();
        }
    }
}
