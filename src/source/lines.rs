//! A bounded line reader: lines longer than the limit are skipped without being buffered whole.

use std::io::{self, BufRead};

/// One read from a [`LineReader`].
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A complete line is in the buffer (without its `\n`).
    Line,
    /// A line longer than the limit was skipped; its length in bytes.
    TooLong(u64),
    /// No more data.
    Eof,
}

/// Reads `\n`-terminated lines (the last may lack the `\n`) of at most `max` bytes.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max: usize,
    /// Number of the line last returned, from 1.
    pub line_no: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            line_no: 0,
        }
    }

    /// Reads the next line into `buf` (cleared first).
    pub fn read(&mut self, buf: &mut Vec<u8>) -> io::Result<Read> {
        buf.clear();
        let mut skipped: u64 = 0;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if skipped > 0 {
                    self.line_no += 1;
                    return Ok(Read::TooLong(skipped));
                }
                if buf.is_empty() {
                    return Ok(Read::Eof);
                }
                self.line_no += 1;
                return Ok(Read::Line);
            }
            let (part, found, used) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (&chunk[..i], true, i + 1),
                None => (chunk, false, chunk.len()),
            };
            if skipped > 0 || buf.len() + part.len() > self.max {
                skipped += (buf.len() + part.len()) as u64;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
            self.inner.consume(used);
            if found {
                self.line_no += 1;
                return Ok(if skipped > 0 {
                    Read::TooLong(skipped)
                } else {
                    Read::Line
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], max: usize, cap: usize) -> Vec<(u64, Result<String, u64>)> {
        let mut r = LineReader::new(io::BufReader::with_capacity(cap, input), max);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            match r.read(&mut buf).unwrap() {
                Read::Line => out.push((r.line_no, Ok(String::from_utf8(buf.clone()).unwrap()))),
                Read::TooLong(n) => out.push((r.line_no, Err(n))),
                Read::Eof => return out,
            }
        }
    }

    #[test]
    fn splits_lines_and_keeps_a_last_line_without_newline() {
        assert_eq!(
            read_all(b"a\n\nbc\nd", 10, 2),
            vec![
                (1, Ok("a".into())),
                (2, Ok("".into())),
                (3, Ok("bc".into())),
                (4, Ok("d".into()))
            ]
        );
    }

    #[test]
    fn skips_long_lines_and_goes_on() {
        assert_eq!(
            read_all(b"12345\n123456789012\nok\n1234567", 5, 4),
            vec![
                (1, Ok("12345".into())),
                (2, Err(12)),
                (3, Ok("ok".into())),
                (4, Err(7))
            ]
        );
    }
}
