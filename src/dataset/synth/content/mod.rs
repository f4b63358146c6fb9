//! Realistic Korean medical content for the five document types, drawn from a seed.
//!
//! Each type's module fills a [`Draft`] (logical lines + fields); [`document`] lays it
//! out and builds the ground-truth text from the laid-out lines.

mod diagnosis;
mod discharge;
pub(crate) mod drugs;
pub(crate) mod kcd;
mod lab_result;
pub(crate) mod labs;
mod medical_record;
pub(crate) mod people;
mod prescription;

use chrono::NaiveDate;

use super::dates::{self, DateFormat};
use super::document::SynthDocument;
use super::fonts::FontFamily;
use super::layout;
use super::lines::{LineKind, PageNumbers, Style, SynthLine, TableRules};
use super::rng::{mix, Rng};
use crate::dataset::{DocType, Fields};

/// Generates one document of `doc_type` from `seed`: same inputs, same document.
/// Cheap (no file access): suitable for drawing text lines in a training loop.
pub fn document(doc_type: DocType, seed: u64) -> SynthDocument {
    let salt = DocType::ALL
        .iter()
        .position(|t| *t == doc_type)
        .unwrap_or(0) as u64
        + 1;
    let mut rng = Rng::new(mix(seed, salt));
    let style = draw_style(&mut rng.fork(), doc_type);
    let mut draft = Draft::new(doc_type, style);
    match doc_type {
        DocType::Prescription => prescription::build(&mut draft, &mut rng),
        DocType::LabResult => lab_result::build(&mut draft, &mut rng),
        DocType::Diagnosis => diagnosis::build(&mut draft, &mut rng),
        DocType::DischargeSummary => discharge::build(&mut draft, &mut rng),
        DocType::MedicalRecord => medical_record::build(&mut draft, &mut rng),
    }
    draft.finish(seed)
}

/// Every drug product the documents prescribe: the one drug list other text samplers (the
/// built-in model's training text) draw from, so they cannot drift from the documents.
pub fn drug_products() -> &'static [drugs::Product] {
    drugs::PRODUCTS
}

/// Every laboratory test the documents report, panel by panel.
pub fn lab_tests() -> impl Iterator<Item = &'static labs::Test> {
    labs::PANELS.iter().flat_map(|p| p.tests)
}

/// Every diagnosis (KCD code and Korean name) the documents cite.
pub fn diagnoses() -> &'static [kcd::Kcd] {
    kcd::ALL
}

/// One drug printed as a prescription prints it (name with strength, dose, frequency, days,
/// 용법), drawn from `seed` with its own generator: documents' draws are untouched.
pub fn sample_drug(seed: u64) -> crate::dataset::Drug {
    let mut rng = Rng::new(seed);
    let style = drugs::PrintStyle::draw(&mut rng);
    let class = rng.choose(drugs::PRODUCTS).class;
    drugs::prescribe(&mut rng, class, style, None)
}

/// One laboratory result row (name, value, flag, unit, range in one document's print style),
/// drawn from `seed` with its own generator.
pub fn sample_lab_row(seed: u64) -> crate::dataset::LabRow {
    let mut rng = Rng::new(seed);
    let tests: Vec<&labs::Test> = lab_tests().collect();
    let test = *rng.choose(&tests);
    let style = labs::LabStyle::draw(&mut rng);
    let sex = rng.pick(&[people::Sex::Male, people::Sex::Female]);
    labs::result(&mut rng, test, sex, style, 0.25)
}

/// Draws the look of a document: family, sizes, margins, rules, date style.
fn draw_style(rng: &mut Rng, doc_type: DocType) -> Style {
    let long = matches!(doc_type, DocType::DischargeSummary | DocType::MedicalRecord);
    let date_format = rng.pick(&[
        DateFormat::Dot,
        DateFormat::Dot,
        DateFormat::Iso,
        DateFormat::Slash,
        DateFormat::Korean,
        DateFormat::KoreanPadded,
        DateFormat::ShortDot,
    ]);
    let numbers = rng.pick(&[
        PageNumbers::Dashes,
        PageNumbers::OfTotal,
        PageNumbers::Korean,
    ]);
    Style {
        family: rng.pick(&FontFamily::ALL),
        // Half-point steps between 9.5 and 11.5.
        body_size: 9.5 + 0.5 * rng.below(5) as f32,
        leading: rng.uniform(1.4, 1.7) as f32,
        margin_x: rng.uniform(42.0, 62.0) as f32,
        margin_top: rng.uniform(45.0, 65.0) as f32,
        margin_bottom: rng.uniform(48.0, 62.0) as f32,
        table_rules: if rng.chance(0.5) {
            TableRules::Grid
        } else {
            TableRules::Horizontal
        },
        date_format,
        page_numbers: (long || rng.chance(0.3)).then_some(numbers),
        running_header: None,
    }
}

/// A document being written: logical lines, fields and the style they will be laid out in.
pub(crate) struct Draft {
    pub doc_type: DocType,
    pub title: String,
    pub style: Style,
    pub blocks: Vec<SynthLine>,
    pub fields: Fields,
}

impl Draft {
    fn new(doc_type: DocType, style: Style) -> Draft {
        Draft {
            doc_type,
            title: doc_type.korean().to_string(),
            style,
            blocks: Vec::new(),
            fields: Fields::default(),
        }
    }

    fn push(&mut self, kind: LineKind, cells: Vec<String>) {
        self.blocks.push(SynthLine::new(kind, cells));
    }

    /// The big title; Korean forms space a one-word title's syllables out (`처 방 전`).
    pub fn title(&mut self, text: &str, spaced: bool) {
        let shown = if spaced && !text.contains(' ') {
            text.chars().map(String::from).collect::<Vec<_>>().join(" ")
        } else {
            text.to_string()
        };
        self.push(LineKind::Title, vec![shown]);
    }
    pub fn meta(&mut self, cells: &[&str]) {
        self.push(
            LineKind::Meta,
            cells.iter().map(|c| c.to_string()).collect(),
        );
    }
    pub fn heading(&mut self, text: &str) {
        self.push(LineKind::Heading, vec![text.to_string()]);
    }
    pub fn field(&mut self, cells: &[&str]) {
        self.push(
            LineKind::Field,
            cells.iter().map(|c| c.to_string()).collect(),
        );
    }
    pub fn table_header(&mut self, cells: &[&str]) {
        self.push(
            LineKind::TableHeader,
            cells.iter().map(|c| c.to_string()).collect(),
        );
    }
    pub fn row(&mut self, cells: Vec<String>) {
        self.push(LineKind::TableRow, cells);
    }
    pub fn body(&mut self, text: impl Into<String>) {
        self.push(LineKind::Body, vec![text.into()]);
    }
    pub fn hand(&mut self, text: impl Into<String>) {
        self.push(LineKind::Handwritten, vec![text.into()]);
    }
    pub fn signature(&mut self, cells: &[&str]) {
        self.push(
            LineKind::Signature,
            cells.iter().map(|c| c.to_string()).collect(),
        );
    }

    /// Records `d` as field `key` (ISO) and returns it printed in the document's style.
    pub fn date(&mut self, key: &str, d: NaiveDate) -> String {
        self.fields.dates.insert(key.to_string(), dates::iso(d));
        self.style.date_format.format(d)
    }

    /// A date printed in the document's style, not recorded as a field.
    pub fn fmt_date(&self, d: NaiveDate) -> String {
        self.style.date_format.format(d)
    }

    /// The drug table (header + one row per drug) and the drugs as fields.
    pub fn drug_table(&mut self, header: &[&str], drugs: Vec<crate::dataset::Drug>) {
        self.table_header(header);
        for d in &drugs {
            self.row(drugs::row(d));
        }
        self.fields.drugs.extend(drugs);
    }

    /// Lays the draft out and builds the ground truth from the laid-out lines.
    fn finish(self, seed: u64) -> SynthDocument {
        let pages = layout::layout(&self.blocks, &self.style);
        let lines: Vec<SynthLine> = pages
            .iter()
            .flat_map(|p| p.lines.iter().map(|l| l.line.clone()))
            .collect();
        let text = lines
            .iter()
            .map(SynthLine::text)
            .collect::<Vec<_>>()
            .join("\n");
        SynthDocument {
            doc_type: self.doc_type,
            seed,
            title: self.title,
            style: self.style,
            blocks: self.blocks,
            pages,
            lines,
            text,
            fields: self.fields,
        }
    }

    /// How many pages the draft would take now (used to make long documents long enough).
    pub fn page_count(&self) -> usize {
        layout::layout(&self.blocks, &self.style).len()
    }
}

/// A date between `2023-01-02` and `2025-06-30`, the period documents are dated in.
pub(crate) fn recent_date(rng: &mut Rng) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).expect("valid date");
    start + chrono::Duration::days(rng.range(0, 910))
}

/// Korean particle after `word`: `with` if its last syllable has a final consonant
/// (받침), else `without`. For `(으)로`, a final ㄹ takes `로`.
pub(crate) fn josa(word: &str, with: &'static str, without: &'static str) -> String {
    let last = word
        .chars()
        .rev()
        .find(|c| ('가'..='힣').contains(c) || c.is_ascii_alphanumeric());
    let batchim = match last {
        Some(c) if ('가'..='힣').contains(&c) => {
            let jong = (c as u32 - 0xAC00) % 28;
            if with == "으로" && jong == 8 {
                0
            } else {
                jong
            }
        }
        // Digits and Latin letters are read aloud: 1, 3, 6, 7, 8, 0, L, M, N end in a consonant.
        Some(c) => {
            let consonant = "1367890LMNlmn".contains(c);
            let rieul = "178Ll".contains(c);
            u32::from(consonant && !(with == "으로" && rieul))
        }
        None => 0,
    };
    format!("{word}{}", if batchim != 0 { with } else { without })
}

/// Fills `{key}` placeholders in a template.
pub(crate) fn fill(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests;
