//! One open file being followed: its descriptor, identity, head, read offset and line state.
//! The descriptor is what is read, never the path: a renamed (rotated) file is drained through
//! it to its end.

use super::identity::{mtime_ns, FileId, FileKey, Head};
use super::position::Position;
use super::split::{Piece, Split};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// A file being read.
#[derive(Debug)]
pub struct FileReader {
    file: File,
    /// The name it was opened under (for the log).
    name: PathBuf,
    id: FileId,
    head: Head,
    /// Offset of the next read.
    pos: u64,
    /// Line splitting state.
    split: Split,
    /// Number of the last line, when reading started at offset 0.
    line_no: Option<u64>,
    /// Size and modification time at the last [`refresh`](Self::refresh).
    size: u64,
    mtime_ns: i64,
}

impl FileReader {
    /// Reads `file` (opened as `name`) from `offset`, with lines of at most `max_line` bytes.
    pub fn new(file: File, name: &Path, offset: u64, max_line: usize) -> io::Result<Self> {
        let meta = file.metadata()?;
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        let head = Head::read(&file, offset)?;
        Ok(Self {
            id: FileId::of(&meta),
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
            file,
            name: name.to_path_buf(),
            head,
            pos: offset,
            split: Split::new(max_line),
            line_no: (offset == 0).then_some(0),
        })
    }

    /// The file's identity.
    pub fn id(&self) -> FileId {
        self.id
    }

    /// The name the file was opened under.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The file's key (identity and fingerprint as read so far).
    pub fn key(&self) -> FileKey {
        self.head.key(self.id)
    }

    /// Offset of the next read.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Modification time at the last refresh.
    pub fn mtime_ns(&self) -> i64 {
        self.mtime_ns
    }

    /// Offset just after the last complete line.
    pub fn consumed(&self) -> u64 {
        self.pos - self.split.held()
    }

    /// Bytes in the file not read yet (as of the last refresh).
    pub fn unread(&self) -> u64 {
        self.size.saturating_sub(self.pos)
    }

    /// Where reading resumes.
    pub fn position(&self) -> Position {
        Position {
            file: Some(self.key()),
            offset: self.consumed(),
            mtime_ns: self.mtime_ns,
            done: false,
        }
    }

    /// Splits `chunk`, the bytes just read, into pieces: `each` gets every piece completed by
    /// them with the offset just after it and where it came from (built only when logged), and
    /// may stop the feeding.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(Piece<'_>, u64, &dyn Fn() -> String) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let base = self.pos - chunk.len() as u64;
        let Self {
            split,
            name,
            line_no,
            ..
        } = self;
        split.feed(chunk, |piece, nl| {
            let end = base + nl as u64 + 1;
            let start = end - 1 - piece_len(&piece);
            if let Some(n) = line_no.as_mut() {
                *n += 1;
            }
            let no = *line_no;
            each(piece, end, &|| origin(name, no, start))
        })
    }

    /// The file is finished: its unterminated last line, if any, goes to `each` as in
    /// [`feed`](Self::feed).
    pub fn finish(
        &mut self,
        each: impl FnOnce(Piece<'_>, u64, &dyn Fn() -> String) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let end = self.pos;
        let Self {
            split,
            name,
            line_no,
            ..
        } = self;
        split.finish(|piece| {
            let start = end - piece_len(&piece);
            let no = line_no.map(|n| n + 1);
            each(piece, end, &|| origin(name, no, start))
        })
    }

    /// Reads the next bytes into `buf`: how many (0 at the end of the file).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Ok(n) => {
                    self.head.extend(self.pos, &buf[..n]);
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Updates size and modification time from the descriptor.
    pub fn refresh(&mut self) -> io::Result<()> {
        let meta = self.file.metadata()?;
        self.size = meta.len();
        self.mtime_ns = mtime_ns(&meta);
        Ok(())
    }

    /// `Some` when the file was truncated under the reader (it is shorter than what was
    /// read, or its first bytes changed: truncated and rewritten past the read offset), with
    /// the bytes known written before but not read (lost).
    pub fn truncated(&mut self) -> io::Result<Option<u64>> {
        let unread = self.unread();
        self.refresh()?;
        let truncated = self.size < self.pos || !self.head.still_matches(&self.file)?;
        Ok(truncated.then_some(unread))
    }

    /// Starts again at offset 0, forgetting what was held (after a truncation).
    pub fn rewind(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.pos = 0;
        self.head = Head::default();
        self.split.reset();
        self.line_no = Some(0);
        Ok(())
    }

    /// Gives up the reader, keeping the descriptor (which keeps the inode from being reused).
    pub fn into_file(self) -> File {
        self.file
    }
}

/// Length of a piece's line.
fn piece_len(piece: &Piece<'_>) -> u64 {
    match piece {
        Piece::Line(l) => l.len() as u64,
        Piece::TooLong(n) => *n,
    }
}

/// Where a line starting at `start` came from, for the log: `file:line`, or `file@offset`
/// when reading did not start at the beginning (the line number is unknown).
fn origin(name: &Path, line_no: Option<u64>, start: u64) -> String {
    match line_no {
        Some(n) => format!("{}:{n}", name.display()),
        None => format!("{}@{start}", name.display()),
    }
}

/// Where following an existing file from its end starts: just after its last `\n` (a line
/// being written at the start arrives whole), or at its end when no `\n` is found within
/// `max_line + 1` bytes (that line is over the limit anyway).
pub fn start_of_last_line(file: &File, max_line: usize) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let size = file.metadata()?.len();
    let limit = size.saturating_sub(max_line as u64 + 1);
    let mut end = size;
    let mut buf = vec![0; 64 * 1024];
    while end > limit {
        let start = end.saturating_sub(buf.len() as u64).max(limit);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(if limit == 0 { 0 } else { size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_tracks_offsets_and_detects_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        let mut w = File::create(&path).unwrap();
        w.write_all(b"one\ntw").unwrap();
        let mut r = FileReader::new(File::open(&path).unwrap(), &path, 0, 100).unwrap();
        let mut buf = [0u8; 64];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"one\ntw");
        let mut seen = Vec::new();
        let _ = r.feed(&buf[..n], |piece, end, origin| {
            seen.push((format!("{piece:?}"), end, origin()));
            ControlFlow::Continue(())
        });
        let first = format!("{}:1", path.display());
        assert_eq!(seen, [(format!("{:?}", Piece::Line(b"one")), 4, first)]);
        assert_eq!((r.pos(), r.consumed()), (6, 4));
        assert_eq!(r.position().offset, 4);
        assert_eq!(r.key().head_len, 6);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(r.truncated().unwrap(), None);
        assert_eq!(r.unread(), 0);
        w.write_all(b"o\n").unwrap();
        r.refresh().unwrap();
        assert_eq!(r.unread(), 2);

        // Truncated and rewritten longer: the head tells.
        w.set_len(0).unwrap();
        let w2 = File::options().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_at(&w2, b"three three three\n", 0).unwrap();
        assert_eq!(
            r.truncated().unwrap(),
            Some(2),
            "the 2 bytes not read are lost"
        );
        r.rewind().unwrap();
        assert_eq!(r.read(&mut buf).unwrap(), 18);
        let mut last = None;
        let _ = r.finish(|piece, end, origin| {
            last = Some((format!("{piece:?}"), end, origin()));
            ControlFlow::Continue(())
        });
        assert_eq!(last, None, "nothing was fed since the rewind");
        assert_eq!(origin(&path, None, 7), format!("{}@7", path.display()));
    }

    #[test]
    fn the_end_position_keeps_a_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        std::fs::write(&path, "a\nbb\ncc").unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(start_of_last_line(&f, 100).unwrap(), 5);
        std::fs::write(&path, "a\nbb\n").unwrap();
        assert_eq!(start_of_last_line(&f, 100).unwrap(), 5);
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(start_of_last_line(&f, 100).unwrap(), 0);
        std::fs::write(&path, "").unwrap();
        assert_eq!(start_of_last_line(&f, 100).unwrap(), 0);
        // No newline within the limit: start at the end.
        std::fs::write(&path, "x\n0123456789").unwrap();
        assert_eq!(start_of_last_line(&f, 4).unwrap(), 12);
    }
}
