//! An engine's answer as the text it transcribes (docs/metrics.md, "Answer formats"): VLMs answer
//! in Markdown (pipe tables, headings, bold) or HTML (`<table>`s), and that markup is not
//! text on the page. [`canonicalize`] turns an answer into canonical text before N1, and
//! collects the tables it holds (cells by row and column) for the table metrics.
//!
//! Rules (each has a unit test below; docs/metrics.md lists them):
//! - a table row becomes one line, its non-empty cells joined by one space;
//! - headings, emphasis, links (their text stays), images, code fences and rules are
//!   removed; code keeps its text;
//! - list markers are **kept as written** (`- `, `* `, `1. `): Korean clinical forms print
//!   them (the bundled ground truth has 147 such lines), so a faithful transcription
//!   writes them and a Markdown list item is the same text;
//! - HTML tags are removed; `<br>` is a line break (a space inside a table cell); block
//!   elements (`<p>`, `<div>`, `<li>`, `<h1>`…, `<tr>`) end a line; `<script>` and
//!   `<style>` are dropped; character references are decoded;
//! - LaTeX-ish math (`$10^{3}/\mu L$`) keeps its text with the common unit commands
//!   written out (`\mu` → μ, `\times` → ×, `\%` → %, …) and braces and `^`/`_` removed
//!   around groups;
//! - empty lines are dropped; the rest is left to N1.
//!
//! Parsing is pulldown-cmark (CommonMark + GFM tables; strikethrough is off: `3~5일` is a
//! range, not markup) and html5ever (through `scraper`). Markdown may hold HTML blocks (an
//! HTML `<table>` inside a Markdown answer): they go through the HTML rules.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

/// How to read an engine's answer.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Plain text: scored as it is.
    #[default]
    Text,
    Markdown,
    Html,
    /// Decide per answer ([`detect`]): the default for VLM engines (`openai`, `hf`).
    Auto,
}

impl OutputFormat {
    pub const NAMES: &'static str = "text, markdown, html, auto";

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::Markdown => "markdown",
            OutputFormat::Html => "html",
            OutputFormat::Auto => "auto",
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" | "plain" => Ok(OutputFormat::Text),
            "markdown" | "md" => Ok(OutputFormat::Markdown),
            "html" => Ok(OutputFormat::Html),
            "auto" => Ok(OutputFormat::Auto),
            other => Err(format!(
                "unknown output format '{other}': choose from {}",
                OutputFormat::NAMES
            )),
        }
    }
}

/// `--output-format`: a format for every engine, and formats for named engines
/// (`markdown`, `openai=markdown,tesseract=text`). An engine without either reads its
/// answers in its own default (`Engine::default_output_format`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormatChoice {
    pub all: Option<OutputFormat>,
    pub per_engine: std::collections::BTreeMap<String, OutputFormat>,
}

impl FormatChoice {
    /// Parses the flag's values: `FORMAT` or `ENGINE=FORMAT` each.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<FormatChoice, String> {
        let mut c = FormatChoice::default();
        for spec in specs {
            let spec = spec.as_ref().trim();
            match spec.split_once('=') {
                Some((engine, f)) => {
                    let engine = engine.trim();
                    if engine.is_empty() {
                        return Err(format!(
                            "output format '{spec}': name the engine before '=' (e.g. openai=markdown)"
                        ));
                    }
                    let f = f
                        .parse()
                        .map_err(|e| format!("output format '{spec}': {e}"))?;
                    if c.per_engine.insert(engine.to_string(), f).is_some() {
                        return Err(format!("output format for '{engine}' given twice"));
                    }
                }
                None => {
                    let f = spec.parse()?;
                    if c.all.replace(f).is_some() {
                        return Err(
                            "--output-format: one format for every engine, given twice; name engines as ENGINE=FORMAT"
                                .into(),
                        );
                    }
                }
            }
        }
        Ok(c)
    }

    /// The format `engine`'s answers are read in.
    pub fn for_engine(&self, engine: &str, default: OutputFormat) -> OutputFormat {
        self.per_engine
            .get(engine)
            .copied()
            .or(self.all)
            .unwrap_or(default)
    }
}

/// One table cell of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Canonical text of the cell (one line).
    pub text: String,
    /// A header cell (`<th>`, a Markdown header row).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub header: bool,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub colspan: usize,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub rowspan: usize,
}

fn one() -> usize {
    1
}
fn is_one(n: &usize) -> bool {
    *n == 1
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            header: false,
            colspan: 1,
            rowspan: 1,
        }
    }
}

/// A table of an answer: rows of cells, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Table {
    pub rows: Vec<Vec<Cell>>,
}

/// An answer read as text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Canonical {
    /// One line per visual line, before N1.
    pub text: String,
    pub tables: Vec<Table>,
    /// The format the answer was read as (never `Auto`).
    pub format: OutputFormat,
}

/// Reads `answer` as `format` (`Auto`: as [`detect`] says).
pub fn canonicalize(answer: &str, format: OutputFormat) -> Canonical {
    let format = match format {
        OutputFormat::Auto => detect(answer),
        f => f,
    };
    let (text, tables) = match format {
        OutputFormat::Text | OutputFormat::Auto => (answer.to_string(), Vec::new()),
        OutputFormat::Markdown => markdown(answer),
        OutputFormat::Html => {
            let mut w = Writer::default();
            html_into(answer, &mut w);
            w.finish()
        }
    };
    Canonical {
        text,
        tables,
        format,
    }
}

/// The format of an answer: Markdown when it has Markdown structure (a pipe table's
/// delimiter row, a `#` heading, `**bold**`, a code fence), else HTML when it has HTML tags,
/// else text. Plain transcriptions stay text: a masked `123456-1******` or a `- 1 -` page
/// number alone does not make an answer Markdown.
pub fn detect(answer: &str) -> OutputFormat {
    let markdown = answer.lines().any(|l| {
        let t = l.trim();
        is_delimiter_row(t)
            || t.starts_with("```")
            || (t.starts_with('#') && {
                let hashes = t.chars().take_while(|&c| c == '#').count();
                hashes <= 6 && t[hashes..].starts_with(' ') && t.len() > hashes + 1
            })
    }) || has_pair(answer, "**")
        || has_pair(answer, "__")
        || has_math(answer);
    if markdown {
        OutputFormat::Markdown
    } else if has_html_tag(answer) {
        OutputFormat::Html
    } else {
        OutputFormat::Text
    }
}

/// LaTeX-ish math: `$…$` holding a command or a braced group (`$10^{3}/\mu L$`); a lone
/// price-like `$` is not math.
fn has_math(answer: &str) -> bool {
    answer.lines().any(|l| {
        let parts: Vec<&str> = l.split('$').collect();
        // Odd-numbered parts lie between a pair of `$`.
        parts.len() >= 3
            && parts
                .iter()
                .skip(1)
                .step_by(2)
                .take((parts.len() - 1) / 2)
                .any(|m| m.contains('\\') || m.contains("^{") || m.contains("_{"))
    })
}

/// `|---|:---:|` and the like.
fn is_delimiter_row(t: &str) -> bool {
    t.contains('-')
        && t.contains('|')
        && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

/// `mark` opens and later closes on one line with text between.
fn has_pair(answer: &str, mark: &str) -> bool {
    answer.lines().any(|l| {
        l.find(mark).is_some_and(|a| {
            let rest = &l[a + mark.len()..];
            rest.find(mark)
                .is_some_and(|b| b > 0 && !rest[..b].starts_with(' ') && !rest[..b].ends_with(' '))
        })
    })
}

/// Tags VLMs write; `<5.7` (a lab range) is not one.
const HTML_TAGS: [&str; 22] = [
    "table", "thead", "tbody", "tr", "td", "th", "p", "div", "br", "span", "b", "strong", "i",
    "em", "ul", "ol", "li", "h1", "h2", "h3", "html", "body",
];

fn has_html_tag(answer: &str) -> bool {
    let lower = answer.to_ascii_lowercase();
    let b = lower.as_bytes();
    let mut i = 0;
    while let Some(k) = lower[i..].find('<') {
        let mut j = i + k + 1;
        if b.get(j) == Some(&b'/') {
            j += 1;
        }
        let start = j;
        while j < b.len() && b[j].is_ascii_alphanumeric() {
            j += 1;
        }
        let name = &lower[start..j];
        if HTML_TAGS.contains(&name) && matches!(b.get(j), Some(b'>' | b' ' | b'/' | b'\t' | b'\n'))
        {
            return true;
        }
        i = i + k + 1;
    }
    false
}

/// Builds canonical lines and tables.
#[derive(Default)]
struct Writer {
    out: String,
    line: String,
    tables: Vec<Table>,
    /// Inside a table cell: text goes to the cell, breaks become spaces.
    cell: Option<Cell>,
    row: Option<Vec<Cell>>,
    table: Option<Table>,
}

impl Writer {
    fn text(&mut self, t: &str) {
        match &mut self.cell {
            Some(c) => c.text.push_str(t),
            None => self.line.push_str(t),
        }
    }

    /// Text whose newlines are line breaks.
    fn text_lines(&mut self, t: &str) {
        for (k, part) in t.split('\n').enumerate() {
            if k > 0 {
                self.newline();
            }
            self.text(part);
        }
    }

    /// A line break (a space inside a cell).
    fn newline(&mut self) {
        if let Some(c) = &mut self.cell {
            c.text.push(' ');
            return;
        }
        let l = self.line.trim();
        if !l.is_empty() {
            self.out.push_str(l);
            self.out.push('\n');
        }
        self.line.clear();
    }

    fn start_table(&mut self) {
        self.newline();
        self.table = Some(Table::default());
    }

    fn start_row(&mut self) {
        self.row = Some(Vec::new());
    }

    fn start_cell(&mut self, header: bool, colspan: usize, rowspan: usize) {
        self.cell = Some(Cell {
            text: String::new(),
            header,
            colspan: colspan.max(1),
            rowspan: rowspan.max(1),
        });
    }

    fn end_cell(&mut self) {
        if let Some(mut c) = self.cell.take() {
            c.text = c.text.split_whitespace().collect::<Vec<_>>().join(" ");
            self.row.get_or_insert_with(Vec::new).push(c);
        }
    }

    /// A row: one line of its non-empty cells.
    fn end_row(&mut self) {
        self.end_cell();
        if let Some(row) = self.row.take() {
            let line: Vec<&str> = row
                .iter()
                .map(|c| c.text.as_str())
                .filter(|t| !t.is_empty())
                .collect();
            self.line.push_str(&line.join(" "));
            self.newline();
            match &mut self.table {
                Some(t) => t.rows.push(row),
                // A row outside any table (stray `<tr>`): a table of its own.
                None => self.tables.push(Table { rows: vec![row] }),
            }
        }
    }

    fn end_table(&mut self) {
        self.end_row();
        if let Some(t) = self.table.take() {
            if !t.rows.is_empty() {
                self.tables.push(t);
            }
        }
    }

    fn finish(mut self) -> (String, Vec<Table>) {
        self.end_table();
        self.newline();
        let mut out = self.out;
        if out.ends_with('\n') {
            out.pop();
        }
        (out, self.tables)
    }
}

fn markdown(answer: &str) -> (String, Vec<Table>) {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_MATH;
    let mut w = Writer::default();
    let mut html_block = String::new();
    let mut in_html_block = false;
    let mut image_depth = 0usize;
    for (ev, range) in Parser::new_ext(answer, opts).into_offset_iter() {
        match ev {
            Event::Start(Tag::HtmlBlock) => in_html_block = true,
            Event::End(TagEnd::HtmlBlock) => {
                in_html_block = false;
                w.newline();
                html_into(&std::mem::take(&mut html_block), &mut w);
            }
            Event::Html(s) if in_html_block => html_block.push_str(&s),
            Event::Html(s) | Event::InlineHtml(s) => inline_html(&s, &mut w),
            Event::Start(Tag::Image { .. }) => image_depth += 1,
            Event::End(TagEnd::Image) => image_depth = image_depth.saturating_sub(1),
            _ if image_depth > 0 => {}
            Event::Start(Tag::Item) => {
                w.newline();
                // The marker as written (`-`, `*`, `3.`): printed forms have them.
                let marker: String = answer[range.start..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                let is_marker = matches!(marker.as_str(), "-" | "*" | "+")
                    || (marker.len() > 1
                        && marker[..marker.len() - 1]
                            .bytes()
                            .all(|b| b.is_ascii_digit())
                        && (marker.ends_with('.') || marker.ends_with(')')));
                if is_marker {
                    w.text(&marker);
                    w.text(" ");
                }
            }
            Event::Start(Tag::Table(_)) => w.start_table(),
            Event::End(TagEnd::Table) => w.end_table(),
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => w.start_row(),
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => w.end_row(),
            Event::Start(Tag::TableCell) => {
                let header =
                    w.row.as_ref().is_some() && w.table.as_ref().is_some_and(|t| t.rows.is_empty());
                w.start_cell(header, 1, 1)
            }
            Event::End(TagEnd::TableCell) => w.end_cell(),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_),
            ) => w.newline(),
            // Code blocks and hard-wrapped text carry their own newlines.
            Event::Text(t) | Event::Code(t) => w.text_lines(&t),
            Event::InlineMath(t) | Event::DisplayMath(t) => w.text(&delatex(&t)),
            Event::SoftBreak | Event::HardBreak | Event::Rule => w.newline(),
            _ => {}
        }
    }
    w.finish()
}

/// An inline HTML tag inside Markdown: `<br>` breaks the line, any other tag is dropped.
fn inline_html(tag: &str, w: &mut Writer) {
    let t = tag.trim().to_ascii_lowercase();
    if t.starts_with("<br") {
        w.newline();
    } else if !t.starts_with('<') {
        // Not a tag after all: keep the text.
        w.text(tag);
    }
}

/// Block-level elements: they start and end a line.
const BLOCKS: [&str; 27] = [
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "caption",
    "dl",
    "dt",
    "dd",
    "hr",
    "figure",
    "figcaption",
    "address",
    "main",
    "body",
];

fn html_into(html: &str, w: &mut Writer) {
    let doc = scraper::Html::parse_fragment(html);
    for child in doc.tree.root().children() {
        html_node(child, w, false);
    }
    w.newline();
}

fn html_node(node: ego_tree::NodeRef<'_, scraper::Node>, w: &mut Writer, pre: bool) {
    match node.value() {
        scraper::Node::Text(t) => {
            if pre {
                w.text_lines(t);
            } else {
                // HTML whitespace (newlines included) is one space.
                let mut s = String::with_capacity(t.len());
                let mut space = false;
                for c in t.chars() {
                    if c.is_whitespace() {
                        space = true;
                    } else {
                        if space {
                            s.push(' ');
                        }
                        space = false;
                        s.push(c);
                    }
                }
                if space {
                    s.push(' ');
                }
                w.text(&s);
            }
        }
        scraper::Node::Element(e) => {
            let name = e.name();
            let span = |a: &str| {
                e.attr(a)
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(1)
            };
            match name {
                "script" | "style" | "head" | "title" | "img" => {}
                "br" => w.newline(),
                "table" => {
                    w.start_table();
                    children(node, w, pre);
                    w.end_table();
                }
                "tr" => {
                    w.end_row();
                    w.start_row();
                    children(node, w, pre);
                    w.end_row();
                }
                "td" | "th" => {
                    w.end_cell();
                    if w.row.is_none() {
                        w.start_row();
                    }
                    w.start_cell(name == "th", span("colspan"), span("rowspan"));
                    children(node, w, pre);
                    w.end_cell();
                }
                _ if BLOCKS.contains(&name) => {
                    w.newline();
                    children(node, w, pre || name == "pre");
                    w.newline();
                }
                _ => children(node, w, pre),
            }
        }
        _ => children(node, w, pre),
    }
}

fn children(node: ego_tree::NodeRef<'_, scraper::Node>, w: &mut Writer, pre: bool) {
    for c in node.children() {
        html_node(c, w, pre);
    }
}

/// LaTeX-ish math as text: unit commands written out, grouping and math-mode spaces
/// removed (`$6.5 \times 10^{3}/\mu L$` → `6.5×10^3/μL`).
pub fn delatex(s: &str) -> String {
    // Longer names first: `\leq` before `\le`, `\left` before `\le`.
    const COMMANDS: [(&str, &str); 21] = [
        ("\\mathrm", ""),
        ("\\mathit", ""),
        ("\\mathbf", ""),
        ("\\operatorname", ""),
        ("\\text", ""),
        ("\\left", ""),
        ("\\right", ""),
        ("\\times", "×"),
        ("\\cdot", "·"),
        ("\\mu", "μ"),
        ("\\%", "%"),
        ("\\leq", "≤"),
        ("\\geq", "≥"),
        ("\\le", "≤"),
        ("\\ge", "≥"),
        ("\\pm", "±"),
        ("\\circ", "°"),
        ("\\sim", "~"),
        // Explicit spaces survive as a placeholder while math-mode spaces are dropped.
        ("\\quad", "\u{1}"),
        ("\\ ", "\u{1}"),
        ("\\,", ""),
    ];
    let mut out: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    for (cmd, rep) in COMMANDS {
        out = out.replace(cmd, rep);
    }
    out.replace([' ', '{', '}'], "").replace('\u{1}', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(s: &str) -> String {
        canonicalize(s, OutputFormat::Markdown).text
    }
    fn html(s: &str) -> String {
        canonicalize(s, OutputFormat::Html).text
    }

    #[test]
    fn pipe_table_rows_become_lines_of_cells() {
        let c = canonicalize(
            "| 약품명 | 1회 투약량 | 횟수 |\n|---|:---:|---:|\n| 아모잘탄정 5/50mg | 1 | 3 |\n| | 2 | |",
            OutputFormat::Markdown,
        );
        assert_eq!(c.text, "약품명 1회 투약량 횟수\n아모잘탄정 5/50mg 1 3\n2");
        assert_eq!(c.tables.len(), 1);
        let t = &c.tables[0];
        assert_eq!(t.rows.len(), 3);
        assert!(t.rows[0].iter().all(|c| c.header));
        assert!(!t.rows[1][0].header);
        assert_eq!(t.rows[2][0].text, "", "empty cells are kept in the table");
    }

    #[test]
    fn headings_emphasis_links_and_fences_are_removed() {
        assert_eq!(
            md("# 처 방 전\n\n**성명:** 홍길동"),
            "처 방 전\n성명: 홍길동"
        );
        assert_eq!(
            md("## 진단\n*본태성* 고혈압 __(I10)__"),
            "진단\n본태성 고혈압 (I10)"
        );
        assert_eq!(md("[서울병원](http://x.kr) 내과"), "서울병원 내과");
        assert_eq!(md("```\n처방전\n교부번호 1\n```"), "처방전\n교부번호 1");
        assert_eq!(md("![바코드](a.png) 12345"), "12345");
        assert_eq!(md("위\n\n---\n\n아래"), "위\n아래");
    }

    #[test]
    fn list_markers_stay_as_printed() {
        assert_eq!(
            md("- 물리치료 주 3회\n- 2주 후 재진"),
            "- 물리치료 주 3회\n- 2주 후 재진"
        );
        assert_eq!(md("1. 아스피린\n2. 타이레놀"), "1. 아스피린\n2. 타이레놀");
        assert_eq!(md("* H: 높음"), "* H: 높음");
    }

    #[test]
    fn br_entities_and_inline_tags() {
        assert_eq!(md("성명<br>홍길동"), "성명\n홍길동");
        assert_eq!(md("<b>성명</b> 홍길동 &amp; 김"), "성명 홍길동 & 김");
        assert_eq!(
            md("| 검사 | 결과 |\n|--|--|\n| AST<br>ALT | 30 |"),
            "검사 결과\nAST ALT 30"
        );
        assert_eq!(html("<p>A&lt;B &#54861;</p>"), "A<B 홍");
    }

    #[test]
    fn html_tables_blocks_and_spans() {
        let c = canonicalize(
            "<h2>검사결과</h2><table><thead><tr><th>검사명</th><th colspan=\"2\">결과</th></tr></thead>\
             <tbody><tr><td>AST</td><td>30</td><td>U/L</td></tr>\n<tr><td rowspan=2>비고<br>없음</td></tr></tbody></table><p>끝</p>",
            OutputFormat::Html,
        );
        assert_eq!(c.text, "검사결과\n검사명 결과\nAST 30 U/L\n비고 없음\n끝");
        let t = &c.tables[0];
        assert_eq!(t.rows[0][1].colspan, 2);
        assert!(t.rows[0][0].header);
        assert_eq!(t.rows[2][0].rowspan, 2);
        assert_eq!(
            html("<script>x()</script><div>처방</div><style>p{}</style>"),
            "처방"
        );
    }

    #[test]
    fn html_inside_markdown_goes_through_the_html_rules() {
        let c = canonicalize(
            "# 처방전\n\n<table>\n<tr><td>성명</td><td>홍길동</td></tr>\n</table>\n\n끝",
            OutputFormat::Markdown,
        );
        assert_eq!(c.text, "처방전\n성명 홍길동\n끝");
        assert_eq!(c.tables.len(), 1);
    }

    #[test]
    fn latex_units_are_written_out() {
        assert_eq!(md("WBC $6.5 \\times 10^{3}/\\mu L$"), "WBC 6.5×10^3/μL");
        assert_eq!(md("$\\mathrm{mg/dL}$ 95$\\%$"), "mg/dL 95%");
        assert_eq!(
            delatex("\\text{TSH}\\ \\leq 4.2\\,\\mu IU/mL"),
            "TSH ≤4.2μIU/mL"
        );
        assert_eq!(delatex("\\left( 3 \\pm 1 \\right)"), "(3±1)");
    }

    #[test]
    fn plain_transcriptions_stay_text() {
        let plain = "주민등록번호 430924-1******\n- 1 -\n3~5일 * H: 높음\nHbA1c <5.7 #3";
        assert_eq!(detect(plain), OutputFormat::Text);
        assert_eq!(canonicalize(plain, OutputFormat::Auto).text, plain);
        assert_eq!(
            detect("| a | b |\n|---|---|\n| 1 | 2 |"),
            OutputFormat::Markdown
        );
        assert_eq!(detect("# 처방전\n성명"), OutputFormat::Markdown);
        assert_eq!(detect("**성명** 홍"), OutputFormat::Markdown);
        assert_eq!(
            detect("<table><tr><td>1</td></tr></table>"),
            OutputFormat::Html
        );
        assert_eq!(detect("성명<br/>홍"), OutputFormat::Html);
        assert_eq!(detect("WBC 7.5 $10^{3}/\\mu L$"), OutputFormat::Markdown);
        assert_eq!(detect("수납 $5 $10"), OutputFormat::Text);
        // Strikethrough is off: a range is not markup.
        assert_eq!(md("**용법** 3~5일, 7~10일"), "용법 3~5일, 7~10일");
    }

    #[test]
    fn format_choice_per_engine() {
        let c = FormatChoice::parse(&["html", "openai=markdown"]).unwrap();
        assert_eq!(
            c.for_engine("openai", OutputFormat::Auto),
            OutputFormat::Markdown
        );
        assert_eq!(
            c.for_engine("tesseract", OutputFormat::Text),
            OutputFormat::Html
        );
        let none = FormatChoice::parse::<&str>(&[]).unwrap();
        assert_eq!(
            none.for_engine("hf", OutputFormat::Auto),
            OutputFormat::Auto
        );
        assert!(FormatChoice::parse(&["text", "html"])
            .unwrap_err()
            .contains("twice"));
        assert!(FormatChoice::parse(&["=html"])
            .unwrap_err()
            .contains("name the engine"));
        assert!(FormatChoice::parse(&["openai=xml"])
            .unwrap_err()
            .contains("openai=xml"));
    }

    #[test]
    fn formats_parse_with_a_helpful_error() {
        assert_eq!(
            "Markdown".parse::<OutputFormat>(),
            Ok(OutputFormat::Markdown)
        );
        assert_eq!("md".parse::<OutputFormat>(), Ok(OutputFormat::Markdown));
        let e = "latex".parse::<OutputFormat>().unwrap_err();
        assert!(e.contains("text, markdown, html, auto"), "{e}");
    }
}
