//! Server-sent events from bytes that arrive in arbitrary pieces.
//!
//! Lines are cut at `\n`, `\r\n` or `\r` before they are decoded, so a piece boundary inside a
//! multi-byte character or a line terminator changes nothing.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field; empty for unnamed events.
    pub(crate) event: String,
    /// The `data:` lines, joined with `\n`.
    pub(crate) data: String,
}

/// A line longer than this is an error: a misbehaving server must not grow memory forever.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// The line was longer than [`MAX_LINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineTooLong;

#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    buffer: Vec<u8>,
    /// A `\r` ended the previous piece: a `\n` starting the next one belongs to it.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    /// Feeds a piece; returns the events it completes.
    pub(crate) fn push(&mut self, piece: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut piece = piece;
        if self.after_cr && !piece.is_empty() {
            self.after_cr = false;
            if let Some(rest) = piece.strip_prefix(b"\n") {
                piece = rest;
            }
        }
        let mut events = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while let Some(offset) = memchr::memchr2(b'\n', b'\r', &piece[i..]) {
            let end = i + offset;
            let terminator_len = if piece[end] == b'\r' {
                match piece.get(end + 1) {
                    Some(b'\n') => 2,
                    Some(_) => 1,
                    None => {
                        self.after_cr = true;
                        1
                    }
                }
            } else {
                1
            };
            self.buffer.extend_from_slice(&piece[start..end]);
            let line = std::mem::take(&mut self.buffer);
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
            i = end + terminator_len;
            start = i;
        }
        self.buffer.extend_from_slice(&piece[start..]);
        if self.buffer.len() > MAX_LINE {
            return Err(LineTooLong);
        }
        Ok(events)
    }

    /// The end of the stream: an event whose blank line never came is dispatched all the same.
    pub(crate) fn finish(&mut self) -> Option<SseEvent> {
        if !self.buffer.is_empty() {
            let line = std::mem::take(&mut self.buffer);
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(bytes: &[u8], size: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::default();
        let mut events = Vec::new();
        for piece in bytes.chunks(size) {
            events.extend(decoder.push(piece).unwrap());
        }
        events.extend(decoder.finish());
        events
    }

    #[test]
    fn events_survive_any_piece_boundary() {
        let stream = "event: message_start\ndata: {\"a\": \"é😀\"}\n\n: keep-alive\n\n\
                      event: delta\r\ndata: line one\r\ndata: line two\r\n\r\n\
                      data: [DONE]\r\r"
            .as_bytes();
        let want = vec![
            SseEvent {
                event: "message_start".into(),
                data: "{\"a\": \"é😀\"}".into(),
            },
            SseEvent {
                event: "delta".into(),
                data: "line one\nline two".into(),
            },
            SseEvent {
                event: String::new(),
                data: "[DONE]".into(),
            },
        ];
        for size in 1..=stream.len() {
            assert_eq!(decode_in_pieces(stream, size), want, "pieces of {size}");
        }
    }

    #[test]
    fn an_unterminated_last_event_is_dispatched() {
        assert_eq!(
            decode_in_pieces(b"data: {\"x\": 1}", 4),
            vec![SseEvent {
                event: String::new(),
                data: "{\"x\": 1}".into()
            }]
        );
        assert!(decode_in_pieces(b"event: ping\n\n", 3).is_empty());
    }

    #[test]
    fn endless_lines_are_refused() {
        let mut decoder = SseDecoder::default();
        let piece = vec![b'x'; 1024 * 1024];
        let mut result = Ok(Vec::new());
        for _ in 0..17 {
            result = decoder.push(&piece);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(LineTooLong));
    }
}
