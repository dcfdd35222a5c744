//! A writer that rotates exactly as lumberjack (natefinch/lumberjack v2, kube-audit-rest's
//! writer) does: every write is one `write` call on a file opened `O_WRONLY|O_APPEND`; a
//! rotation closes the file, renames it to `<prefix>-<UTC 2006-01-02T15-04-05.000><ext>` in
//! the same directory, and creates a new file at the path (`O_CREATE|O_WRONLY|O_TRUNC`,
//! mode 0600); old backups are removed afterwards (lumberjack's "mill").

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The writer of one file.
pub struct Lumberjack {
    path: PathBuf,
    file: Option<File>,
}

impl Lumberjack {
    /// Opens the file for appending, creating it (mode 0600) when it does not exist.
    pub fn open(path: &Path) -> Self {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .unwrap();
        Self {
            path: path.to_path_buf(),
            file: Some(file),
        }
    }

    /// One write call.
    pub fn write(&mut self, bytes: &[u8]) {
        let file = self.file.as_mut().expect("open");
        let n = file.write(bytes).unwrap();
        assert_eq!(n, bytes.len(), "a short write to a regular file");
    }

    /// Closes the file, renames it to its backup name and creates a new one; the backup's path.
    pub fn rotate(&mut self) -> PathBuf {
        drop(self.file.take());
        let backup = loop {
            let candidate = backup_name(&self.path, chrono::Utc::now());
            // Lumberjack would replace a backup of the same millisecond (losing it); the test
            // waits for the next millisecond instead, so that the writer itself loses nothing.
            if !candidate.exists() {
                break candidate;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        };
        std::fs::rename(&self.path, &backup).unwrap();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&self.path)
            .unwrap();
        self.file = Some(file);
        backup
    }

    /// Truncates the file to nothing and writes on from its start (as a writer does after
    /// `copytruncate`; lumberjack never truncates). The file created by a rotation is not in
    /// append mode, hence the seek.
    pub fn truncate(&mut self) {
        let file = self.file.as_mut().expect("open");
        file.set_len(0).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
    }
}

/// Lumberjack's `backupName`: `<prefix>-<timestamp><ext>`, ext from the name's last dot.
pub fn backup_name(path: &Path, t: chrono::DateTime<chrono::Utc>) -> PathBuf {
    let name = path.file_name().unwrap().to_str().unwrap();
    let (prefix, ext) = match name.rfind('.') {
        Some(dot) => name.split_at(dot),
        None => (name, ""),
    };
    let stamp = t.format("%Y-%m-%dT%H-%M-%S%.3f");
    path.with_file_name(format!("{prefix}-{stamp}{ext}"))
}

#[test]
fn names_backups_as_lumberjack() {
    let t = chrono::DateTime::parse_from_rfc3339("2006-01-02T15:04:05.123Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        backup_name(Path::new("/var/log/kube-audit-rest.log"), t),
        Path::new("/var/log/kube-audit-rest-2006-01-02T15-04-05.123.log")
    );
    assert_eq!(
        backup_name(Path::new("/d/audit"), t),
        Path::new("/d/audit-2006-01-02T15-04-05.123")
    );
}
