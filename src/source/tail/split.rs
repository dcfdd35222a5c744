//! Splits the bytes of a followed file into lines as they arrive: only `\n`-terminated lines
//! come out; the unterminated rest is kept until its newline arrives (or the file is finished),
//! and a line longer than the limit is skipped without being buffered whole.

use std::ops::ControlFlow;

/// One piece of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete line, without its `\n`.
    Line(&'a [u8]),
    /// A line over the limit was skipped; its length in bytes.
    TooLong(u64),
}

/// Line splitting state of one file.
#[derive(Debug)]
pub struct Split {
    /// Start of the unterminated line, when it is within the limit.
    partial: Vec<u8>,
    /// Bytes of an unterminated line over the limit, skipped so far.
    skipped: Option<u64>,
    max: usize,
}

/// Capacity kept for the partial line after a long one went through.
const KEEP_CAPACITY: usize = 64 * 1024;

impl Split {
    /// Lines of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            partial: Vec::new(),
            skipped: None,
            max,
        }
    }

    /// Bytes after the last `\n` seen (held back or being skipped).
    pub fn held(&self) -> u64 {
        self.skipped.unwrap_or(self.partial.len() as u64)
    }

    /// Feeds the next bytes; `each` gets every piece completed by them with the index in
    /// `chunk` of the `\n` that ends it, and may stop the feeding.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(Piece<'_>, usize) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            let part = &chunk[start..nl];
            start = nl + 1;
            if let Some(skipped) = self.skipped.take() {
                each(Piece::TooLong(skipped + part.len() as u64), nl)?;
            } else if self.partial.is_empty() {
                if part.len() > self.max {
                    each(Piece::TooLong(part.len() as u64), nl)?;
                } else {
                    each(Piece::Line(part), nl)?;
                }
            } else {
                let total = self.partial.len() + part.len();
                if total > self.max {
                    self.clear_partial();
                    each(Piece::TooLong(total as u64), nl)?;
                } else {
                    self.partial.extend_from_slice(part);
                    let flow = each(Piece::Line(&self.partial), nl);
                    self.clear_partial();
                    flow?;
                }
            }
        }
        let rest = &chunk[start..];
        if let Some(skipped) = self.skipped.as_mut() {
            *skipped += rest.len() as u64;
        } else if self.partial.len() + rest.len() > self.max {
            self.skipped = Some((self.partial.len() + rest.len()) as u64);
            self.clear_partial();
        } else {
            self.partial.extend_from_slice(rest);
        }
        ControlFlow::Continue(())
    }

    /// The file is finished: its unterminated last line, if any, goes out as it is.
    pub fn finish(&mut self, each: impl FnOnce(Piece<'_>) -> ControlFlow<()>) -> ControlFlow<()> {
        let flow = if let Some(skipped) = self.skipped.take() {
            each(Piece::TooLong(skipped))
        } else if !self.partial.is_empty() {
            each(Piece::Line(&self.partial))
        } else {
            ControlFlow::Continue(())
        };
        self.clear_partial();
        flow
    }

    /// Forgets the held bytes (the file was truncated).
    pub fn reset(&mut self) {
        self.skipped = None;
        self.clear_partial();
    }

    fn clear_partial(&mut self) {
        self.partial.clear();
        self.partial.shrink_to(KEEP_CAPACITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` and returns the pieces (lines as text, skipped lengths as numbers) with
    /// the absolute offset just after each, then what `finish` gives.
    fn run(max: usize, chunks: &[&str]) -> (Vec<(String, u64)>, Option<String>, u64) {
        let mut s = Split::new(max);
        let mut out = Vec::new();
        let mut base = 0u64;
        for chunk in chunks {
            let flow = s.feed(chunk.as_bytes(), |piece, nl| {
                let text = match piece {
                    Piece::Line(l) => String::from_utf8(l.to_vec()).unwrap(),
                    Piece::TooLong(n) => format!("<{n}>"),
                };
                out.push((text, base + nl as u64 + 1));
                ControlFlow::Continue(())
            });
            assert!(flow.is_continue());
            base += chunk.len() as u64;
        }
        let held = s.held();
        let mut last = None;
        let _ = s.finish(|piece| {
            last = Some(match piece {
                Piece::Line(l) => String::from_utf8(l.to_vec()).unwrap(),
                Piece::TooLong(n) => format!("<{n}>"),
            });
            ControlFlow::Continue(())
        });
        (out, last, held)
    }

    #[test]
    fn keeps_the_partial_line_until_its_newline() {
        let (lines, last, held) = run(100, &["a\nbc", "d", "e\n\nf"]);
        assert_eq!(lines, [("a".into(), 2), ("bcde".into(), 7), ("".into(), 8)]);
        assert_eq!((last.as_deref(), held), (Some("f"), 1));
        let (_, last, held) = run(100, &["x\n"]);
        assert_eq!((last, held), (None, 0));
    }

    #[test]
    fn skips_long_lines_across_chunks_without_buffering_them() {
        let (lines, last, held) = run(4, &["1234\n12", "345", "6\nok\n", "123", "45"]);
        assert_eq!(
            lines,
            [("1234".into(), 5), ("<6>".into(), 12), ("ok".into(), 15)]
        );
        assert_eq!((last.as_deref(), held), (Some("<5>"), 5));
        let (lines, _, _) = run(4, &["12345\nab", "cde\n"]);
        assert_eq!(lines, [("<5>".into(), 6), ("<5>".into(), 12)]);
    }

    #[test]
    fn stops_when_asked_and_resets() {
        let mut s = Split::new(10);
        let mut n = 0;
        let flow = s.feed(b"a\nb\nc\n", |_, _| {
            n += 1;
            ControlFlow::Break(())
        });
        assert!(flow.is_break());
        assert_eq!(n, 1);
        let mut s = Split::new(10);
        let _ = s.feed(b"abc", |_, _| ControlFlow::Continue(()));
        assert_eq!(s.held(), 3);
        s.reset();
        assert_eq!(s.held(), 0);
    }
}
