//! captureFile: every accepted review appended as one JSONL line and rotated like lumberjack
//! (kube-audit-rest's writer), so that the directory replays in name order later.
//!
//! When a line would take the file past the maximum size, the file is closed, renamed to
//! `<base>-<UTC 2006-01-02T15-04-05.000><ext>` and a new one is created (mode 0600); the oldest
//! backups beyond the maximum count are removed (0 keeps them all, as in lumberjack). A line
//! larger than the maximum still goes, alone, into a fresh file (lumberjack would refuse it).

use chrono::{DateTime, NaiveDateTime, Utc};
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Lumberjack's backup time format (Go layout `2006-01-02T15-04-05.000`).
const BACKUP_TIME: &str = "%Y-%m-%dT%H-%M-%S%.3f";

/// The capture file being written.
#[derive(Debug)]
pub(super) struct Capture {
    path: PathBuf,
    max_bytes: u64,
    max_backups: usize,
    /// The open file; `None` after a failed rotation (reopened on the next line).
    file: Option<File>,
    /// Bytes in the open file.
    size: u64,
}

impl Capture {
    /// Opens (or creates) `path` for appending.
    pub(super) fn open(path: &Path, max_bytes: u64, max_backups: u64) -> io::Result<Self> {
        let mut capture = Self {
            path: path.to_path_buf(),
            max_bytes: max_bytes.max(1),
            max_backups: usize::try_from(max_backups).unwrap_or(usize::MAX),
            file: None,
            size: 0,
        };
        capture.file()?;
        Ok(capture)
    }

    /// The open file, reopened when a rotation failed half-way.
    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&self.path)?;
            self.size = file.metadata()?.len();
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened just above"))
    }

    /// Appends `line` and a newline, rotating first when the file would grow past the maximum.
    pub(super) fn append(&mut self, line: &[u8], now: DateTime<Utc>) -> io::Result<()> {
        let len = line.len() as u64 + 1;
        self.file()?;
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate(now)?;
        }
        let file = self.file()?;
        write_line(file, line)?;
        self.size += len;
        Ok(())
    }

    fn rotate(&mut self, now: DateTime<Utc>) -> io::Result<()> {
        self.file = None;
        let mut at = now;
        let mut backup = backup_name(&self.path, at);
        while backup.exists() {
            at += chrono::Duration::milliseconds(1);
            backup = backup_name(&self.path, at);
        }
        fs::rename(&self.path, &backup)?;
        self.file()?;
        self.prune();
        Ok(())
    }

    /// Removes the oldest backups beyond the maximum count.
    fn prune(&self) {
        if self.max_backups == 0 {
            return;
        }
        let (dir, prefix, ext) = parts(&self.path);
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        let mut backups: Vec<(NaiveDateTime, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stamp = name.strip_prefix(&prefix)?.strip_suffix(&ext)?;
                let at = NaiveDateTime::parse_from_str(stamp, BACKUP_TIME).ok()?;
                Some((at, e.path()))
            })
            .collect();
        backups.sort_by(|a, b| b.cmp(a));
        for (_, old) in backups.into_iter().skip(self.max_backups) {
            if let Err(e) = fs::remove_file(&old) {
                log::warn!(
                    "captureFile backup {} cannot be removed: {e}",
                    old.display()
                );
            }
        }
    }
}

/// Writes `line` and its newline in one `writev` (more only when the file takes part of it), so
/// that another appender cannot slip in between and a failure rarely leaves a line without its
/// end.
fn write_line(file: &mut impl Write, line: &[u8]) -> io::Result<()> {
    let mut slices = [IoSlice::new(line), IoSlice::new(b"\n")];
    let mut left = &mut slices[..];
    while !left.is_empty() {
        match file.write_vectored(left) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut left, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The directory, the name prefix (`<base>-`) and the extension of the capture's backups
/// (Go's `filepath.Ext`: from the last dot of the file name).
fn parts(path: &Path) -> (PathBuf, String, String) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (base, ext) = match name.rfind('.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name.as_str(), ""),
    };
    (dir, format!("{base}-"), ext.to_string())
}

/// `<dir>/<base>-<UTC time>.<ext>`.
fn backup_name(path: &Path, at: DateTime<Utc>) -> PathBuf {
    let (dir, prefix, ext) = parts(path);
    dir.join(format!("{prefix}{}{ext}", at.format(BACKUP_TIME)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_795_169_703_000 + ms).unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    /// A writer that records each call and takes at most `max` bytes per call.
    struct Calls {
        calls: Vec<Vec<u8>>,
        max: usize,
    }

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            let n = all.len().min(self.max);
            self.calls.push(all[..n].to_vec());
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_and_its_newline_go_in_one_write() {
        let mut w = Calls {
            calls: Vec::new(),
            max: usize::MAX,
        };
        write_line(&mut w, b"{\"a\":1}").unwrap();
        assert_eq!(w.calls, [b"{\"a\":1}\n".to_vec()]);
        // A short write goes on where it stopped.
        let mut w = Calls {
            calls: Vec::new(),
            max: 3,
        };
        write_line(&mut w, b"abcde").unwrap();
        assert_eq!(w.calls.concat(), b"abcde\n");
        assert_eq!(w.calls.len(), 2);
    }

    #[test]
    fn backup_names_follow_lumberjack() {
        assert_eq!(
            backup_name(Path::new("/var/log/kar.jsonl"), at(7)),
            Path::new("/var/log/kar-2026-11-20T10-15-03.007.jsonl")
        );
        assert_eq!(
            backup_name(Path::new("/var/log/a.b.log"), at(0)),
            Path::new("/var/log/a.b-2026-11-20T10-15-03.000.log")
        );
        assert_eq!(
            backup_name(Path::new("capture"), at(999)),
            Path::new("./capture-2026-11-20T10-15-03.999")
        );
    }

    #[test]
    fn rotates_and_keeps_the_newest_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cap.jsonl");
        fs::write(dir.path().join("cap-notatime.jsonl"), "other\n").unwrap();
        let mut c = Capture::open(&path, 100, 2).unwrap();
        let line = |i: u8| vec![b'a' + i; 39]; // 40 bytes with the newline: 2 per file
        for i in 0..7 {
            c.append(&line(i), at(i64::from(i))).unwrap();
        }
        assert_eq!(
            names(dir.path()),
            [
                "cap-2026-11-20T10-15-03.004.jsonl",
                "cap-2026-11-20T10-15-03.006.jsonl",
                "cap-notatime.jsonl",
                "cap.jsonl"
            ]
        );
        let read = |n: &str| fs::read_to_string(dir.path().join(n)).unwrap();
        let text = |i: u8| String::from_utf8(line(i)).unwrap();
        let expect = |a: u8, b: u8| format!("{}\n{}\n", text(a), text(b));
        assert_eq!(read("cap-2026-11-20T10-15-03.004.jsonl"), expect(2, 3));
        assert_eq!(read("cap-2026-11-20T10-15-03.006.jsonl"), expect(4, 5));
        assert_eq!(read("cap.jsonl"), format!("{}\n", text(6)));
    }

    #[test]
    fn keeps_every_backup_with_zero_and_avoids_name_clashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cap");
        fs::write(&path, "x".repeat(30) + "\n").unwrap();
        let mut c = Capture::open(&path, 50, 0).unwrap();
        assert_eq!(c.size, 31);
        for _ in 0..3 {
            c.append(&[b'z'; 60], at(0)).unwrap(); // larger than the maximum: alone in a file
        }
        assert_eq!(
            names(dir.path()),
            [
                "cap",
                "cap-2026-11-20T10-15-03.000",
                "cap-2026-11-20T10-15-03.001",
                "cap-2026-11-20T10-15-03.002"
            ]
        );
        let first = fs::read_to_string(dir.path().join("cap-2026-11-20T10-15-03.000")).unwrap();
        assert_eq!(first, "x".repeat(30) + "\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("cap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
