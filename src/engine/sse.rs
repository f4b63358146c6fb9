//! An incremental Server-Sent-Events parser (the WHATWG `text/event-stream` format), fed the
//! body of a streaming HTTP response in whatever pieces the network delivers.
//!
//! Bytes are buffered until a whole line is there and only whole lines are decoded, so a
//! UTF-8 sequence split across two reads is never decoded in halves (a line terminator
//! byte cannot occur inside a multi-byte sequence). `\n`, `\r\n` and `\r` all end a line,
//! including a `\r\n` split across reads. Comment lines (`: keep-alive`) are skipped;
//! several `data:` lines of one event are joined with `\n`; a blank line dispatches.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the server named the event type.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("the event stream is not UTF-8 (line {line})")]
    InvalidUtf8 { line: usize },
    #[error("an event stream line is longer than {limit} bytes")]
    LineTooLong { limit: usize },
}

/// Longest line accepted: far above any chat-completion chunk, low enough that a server
/// streaming binary data cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The parser state between network reads.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line in progress (no terminator yet).
    line: Vec<u8>,
    /// The previous read ended in `\r`: a `\n` at the start of the next one belongs to it.
    after_cr: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    lines: usize,
}

impl SseParser {
    pub fn new() -> Self {
        SseParser::default()
    }

    /// Feeds the next piece of the body; returns the events completed by it, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        let mut rest = bytes;
        if self.after_cr && rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
        self.after_cr = false;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let is_cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.process_line(&line)? {
                events.push(event);
            }
        }
        if self.line.len() + rest.len() > MAX_LINE_BYTES {
            return Err(SseError::LineTooLong {
                limit: MAX_LINE_BYTES,
            });
        }
        self.line.extend_from_slice(rest);
        Ok(events)
    }

    /// Whether the stream stopped in the middle of a line or an event (bytes or data not
    /// yet dispatched): a sign of a cut connection.
    pub fn has_pending(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }

    fn process_line(&mut self, line: &[u8]) -> Result<Option<SseEvent>, SseError> {
        self.lines += 1;
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        let line =
            std::str::from_utf8(line).map_err(|_| SseError::InvalidUtf8 { line: self.lines })?;
        // The first line of a stream may start with a byte-order mark.
        let line = if self.lines == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        if line.starts_with(':') {
            return Ok(None); // comment: keep-alive pings
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            // `id` and `retry` only matter to reconnecting browsers; unknown fields are
            // ignored by the standard.
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `step` bytes and collects every event.
    fn parse_in_steps(stream: &[u8], step: usize) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for piece in stream.chunks(step) {
            out.extend(p.feed(piece).unwrap());
        }
        assert!(!p.has_pending(), "stream left undispatched bytes");
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    /// A vLLM-style stream (recorded shape): role-only first chunk, multi-token content
    /// chunks, a finish chunk, a usage-only last chunk, `[DONE]`.
    const VLLM: &str = concat!(
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"qwen\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"qwen\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"처 방\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"qwen\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" 전\\n아목시실린 500mg\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"qwen\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"qwen\",\"choices\":[],\"usage\":{\"prompt_tokens\":1312,\"total_tokens\":1321,\"completion_tokens\":9}}\n\n",
        "data: [DONE]\n\n",
    );

    /// A TGI-style stream: `data:` without a space, CRLF line ends, keep-alive comments,
    /// an `event:` line.
    const TGI: &str = concat!(
        ": ping\r\n\r\n",
        "data:{\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":2,\"model\":\"tgi\",\"system_fingerprint\":\"3.0\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"검사\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\r\n\r\n",
        ":keep-alive\r\n",
        "event: message\r\n",
        "data:{\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":2,\"model\":\"tgi\",\"system_fingerprint\":\"3.0\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"결과지\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":900,\"completion_tokens\":3,\"total_tokens\":903}}\r\n\r\n",
        "data:[DONE]\r\n\r\n",
    );

    #[test]
    fn vllm_stream_in_one_piece_and_byte_by_byte() {
        let whole = parse_in_steps(VLLM.as_bytes(), VLLM.len());
        assert_eq!(whole.len(), 6);
        assert!(whole[1].data.contains("처 방"));
        assert!(whole[4].data.contains("\"completion_tokens\":9"));
        assert_eq!(whole[5].data, "[DONE]");
        // Every split point, Hangul's 3-byte sequences included, gives the same events.
        for step in [1, 2, 3, 5, 7, 64] {
            assert_eq!(parse_in_steps(VLLM.as_bytes(), step), whole, "step {step}");
        }
    }

    #[test]
    fn tgi_stream_with_crlf_comments_and_event_names() {
        let whole = parse_in_steps(TGI.as_bytes(), TGI.len());
        assert_eq!(data(&whole).len(), 3);
        assert_eq!(whole[0].event, None);
        assert_eq!(whole[1].event.as_deref(), Some("message"));
        assert!(whole[1].data.starts_with("{\"object\""));
        assert_eq!(whole[2].data, "[DONE]");
        for step in 1..=4 {
            assert_eq!(parse_in_steps(TGI.as_bytes(), step), whole, "step {step}");
        }
    }

    #[test]
    fn multi_line_data_and_lone_cr_line_ends() {
        let s = "data: first\ndata:second\n\nevent: x\rdata: a\r\r";
        let ev = parse_in_steps(s.as_bytes(), 1);
        assert_eq!(data(&ev), ["first\nsecond", "a"]);
        assert_eq!(ev[1].event.as_deref(), Some("x"));
    }

    #[test]
    fn split_utf8_sequence_is_joined_before_decoding() {
        let s = "data: 처방전\n\n".as_bytes();
        let mut p = SseParser::new();
        // Cut inside the 3-byte sequence of '처' (bytes 6..9).
        assert!(p.feed(&s[..7]).unwrap().is_empty());
        assert!(p.has_pending());
        let ev = p.feed(&s[7..]).unwrap();
        assert_eq!(data(&ev), ["처방전"]);
    }

    #[test]
    fn invalid_utf8_and_cut_streams_are_reported() {
        let mut p = SseParser::new();
        assert_eq!(
            p.feed(b"data: \xff\xfe\n\n"),
            Err(SseError::InvalidUtf8 { line: 1 })
        );
        let mut p = SseParser::new();
        p.feed(b"data: {\"choices\":[").unwrap();
        assert!(p.has_pending());
        // A blank line with no data dispatches nothing.
        let mut p = SseParser::new();
        assert!(p.feed(b"\n\n: c\n\n").unwrap().is_empty());
    }
}
