//! One escaper per output format, so every writer (run, bench, compare) quotes text the
//! same way. The console needs none: it is plain text.

/// Text made safe for a Markdown table cell or line: a backslash and `|` are
/// backslash-escaped (a `|` would end the cell) and line breaks become spaces (a row is
/// one line).
pub fn markdown(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\r' => {
                // CR LF is one break.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                o.push(' ');
            }
            '\n' => o.push(' '),
            _ => o.push(c),
        }
    }
    o
}

/// Text for inside a Markdown code span in a table: backslashes stay literal (a code span
/// shows them as they are), `|` is still escaped (GitHub splits cells before code spans)
/// and line breaks become spaces.
pub fn markdown_code(s: &str) -> String {
    s.replace("\r\n", " ")
        .replace(['\r', '\n'], " ")
        .replace('|', "\\|")
}

/// Text for HTML and SVG content and attribute values.
pub fn html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_keep_one_line_and_their_pipes() {
        assert_eq!(markdown("a|b"), "a\\|b");
        assert_eq!(markdown(r"C:\data"), r"C:\\data");
        assert_eq!(markdown("one\ntwo\r\nthree\rfour"), "one two three four");
        assert_eq!(markdown("처방전 **x**"), "처방전 **x**");
        assert_eq!(markdown_code(r"C:\a|b"), r"C:\a\|b");
    }

    #[test]
    fn html_escapes_the_five_characters() {
        assert_eq!(html(r#"<a href='x'>&"#), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(html("\"처방전\""), "&quot;처방전&quot;");
    }
}
