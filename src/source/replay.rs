//! Replay (SPEC §5.1): capture files, directories and globs read once, in order, inside
//! `next_batch`; `.gz` by extension or magic bytes.

use super::lines::{LineReader, Read as LineRead};
use anyhow::Context;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The files a list of replay items names, in reading order.
pub fn expand(items: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for item in items {
        if item.contains(['*', '?', '[']) {
            let mut matches: Vec<PathBuf> = glob::glob(item)
                .with_context(|| format!("bad glob pattern {item:?}"))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            anyhow::ensure!(!matches.is_empty(), "glob {item:?} matches no file");
            matches.sort();
            files.extend(matches);
        } else {
            let path = Path::new(item);
            let meta = std::fs::metadata(path).with_context(|| format!("cannot open {item:?}"))?;
            if meta.is_dir() {
                files.extend(dir_files(path)?);
            } else {
                // A FIFO or a device would block next_batch forever: only regular files.
                anyhow::ensure!(
                    meta.is_file(),
                    "{item:?} is not a regular file or a directory"
                );
                files.push(path.to_path_buf());
            }
        }
    }
    Ok(files)
}

/// Regular files of a directory (not recursive), oldest mtime first, name as tie-break.
fn dir_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {dir:?}"))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() {
            entries.push((meta.modified().ok(), entry.path()));
        }
    }
    entries.sort();
    Ok(entries.into_iter().map(|(_, p)| p).collect())
}

/// Counts the bytes read from the underlying file (for progress).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type Reader = LineReader<Box<dyn BufRead + Send>>;

/// One line read by [`Replay::next_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A line is in the buffer.
    Line,
    /// A line over the size limit was skipped; its length.
    TooLong(u64),
    /// Every file is read.
    End,
}

/// Reads the lines of every file in turn.
pub struct Replay {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<Reader>,
    max_line: usize,
    total_bytes: u64,
    done_bytes: u64,
    current_bytes: Arc<AtomicU64>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("files", &self.files)
            .field("next_file", &self.next_file)
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// Prepares to read `items` (files, directories, globs) with lines of at most `max_line` bytes.
    pub fn open(items: &[String], max_line: usize) -> anyhow::Result<Self> {
        let files = expand(items)?;
        let total_bytes = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        Ok(Self {
            files,
            next_file: 0,
            current: None,
            max_line,
            total_bytes,
            done_bytes: 0,
            current_bytes: Arc::default(),
        })
    }

    /// Where the last line came from, as `file:line`.
    pub fn origin(&self) -> String {
        let file = self
            .next_file
            .checked_sub(1)
            .and_then(|i| self.files.get(i))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let line = self.current.as_ref().map(|r| r.line_no).unwrap_or(0);
        format!("{file}:{line}")
    }

    /// Reads the next line of the current file, moving on to the next file at its end.
    /// A file that cannot be read is logged and skipped.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> Next {
        loop {
            let Some(reader) = self.current.as_mut() else {
                if !self.open_next() {
                    return Next::End;
                }
                continue;
            };
            match reader.read(buf) {
                Ok(LineRead::Line) => return Next::Line,
                Ok(LineRead::TooLong(n)) => return Next::TooLong(n),
                Ok(LineRead::Eof) => self.finish_file(),
                Err(e) => {
                    log::error!(
                        "{}: read error, skipping the rest of the file: {e}",
                        self.origin()
                    );
                    self.finish_file();
                }
            }
        }
    }

    fn finish_file(&mut self) {
        self.current = None;
        self.done_bytes += self.current_bytes.swap(0, Ordering::Relaxed);
    }

    fn open_next(&mut self) -> bool {
        while let Some(path) = self.files.get(self.next_file) {
            self.next_file += 1;
            match open_file(path, self.current_bytes.clone()) {
                Ok(r) => {
                    log::info!("replaying {}", path.display());
                    self.current = Some(LineReader::new(r, self.max_line));
                    return true;
                }
                Err(e) => log::error!("cannot read {}: {e}; skipped", path.display()),
            }
        }
        false
    }

    /// Fraction of the input read so far, from 0 to 1.
    pub fn progress(&self) -> f64 {
        if self.total_bytes == 0 {
            return if self.current.is_none() && self.next_file >= self.files.len() {
                1.0
            } else {
                0.0
            };
        }
        let done = self.done_bytes + self.current_bytes.load(Ordering::Relaxed);
        (done as f64 / self.total_bytes as f64).min(1.0)
    }
}

/// Opens a file, decompressing gzip (by `.gz` extension or magic bytes).
fn open_file(path: &Path, count: Arc<AtomicU64>) -> io::Result<Box<dyn BufRead + Send>> {
    let file = Counting {
        inner: File::open(path)?,
        count,
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, file);
    let magic = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let by_name = path.extension().is_some_and(|e| e == "gz");
    Ok(if magic || by_name {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(replay: &mut Replay) -> Vec<String> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            match replay.next_line(&mut buf) {
                Next::Line => out.push(String::from_utf8_lossy(&buf).into_owned()),
                Next::TooLong(n) => out.push(format!("<too long {n}>")),
                Next::End => return out,
            }
        }
    }

    #[test]
    fn reads_files_gzip_dirs_and_globs_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("b.log"), "b1\nb2\n").unwrap();
        std::fs::write(d.join("a.log"), "a1\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"z1\nz2").unwrap();
        std::fs::write(d.join("c.jsonl.gz"), gz.finish().unwrap()).unwrap();
        // gzip without the .gz name is found by its magic bytes
        std::fs::copy(d.join("c.jsonl.gz"), d.join("magic.log")).unwrap();

        let glob = format!("{}/*.log", d.display());
        let mut r = Replay::open(&[glob], 100).unwrap();
        assert_eq!(lines_of(&mut r), ["a1", "b1", "b2", "z1", "z2"]);
        assert_eq!(r.progress(), 1.0);

        let gz_item = d.join("c.jsonl.gz").display().to_string();
        let a_item = d.join("a.log").display().to_string();
        let mut r = Replay::open(&[gz_item, a_item], 100).unwrap();
        assert_eq!(lines_of(&mut r), ["z1", "z2", "a1"]);
    }

    #[test]
    fn directories_read_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let t0 = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for (name, age) in [("new", 3), ("old", 1), ("mid", 2)] {
            let p = d.join(name);
            std::fs::write(&p, format!("{name}\n")).unwrap();
            let f = File::options().write(true).open(&p).unwrap();
            f.set_modified(t0 + std::time::Duration::from_secs(age))
                .unwrap();
        }
        std::fs::create_dir(d.join("sub")).unwrap();
        let mut r = Replay::open(&[d.display().to_string()], 100).unwrap();
        assert_eq!(lines_of(&mut r), ["old", "mid", "new"]);
    }

    #[test]
    fn missing_inputs_fail_open() {
        assert!(Replay::open(&["/nonexistent/x.jsonl".into()], 10).is_err());
        assert!(Replay::open(&["/dev/null".into()], 10).is_err());
        assert!(Replay::open(&["/nonexistent/*.jsonl".into()], 10).is_err());
    }
}
