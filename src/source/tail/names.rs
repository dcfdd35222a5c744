//! Lumberjack's names for the rotated copies of a file, and the listing of those copies.
//!
//! Lumberjack renames `<dir>/<prefix><ext>` to `<dir>/<prefix>-<UTC 2006-01-02T15-04-05.000><ext>`
//! (`ext` as Go's `filepath.Ext`: from the last dot of the name), so the copies of one file sort
//! by name in the order they were rotated.

use super::identity::{mtime_ns, FileId};
use std::path::{Path, PathBuf};

/// Length of lumberjack's timestamp, `2006-01-02T15-04-05.000`.
const STAMP_LEN: usize = 23;

/// The backup names of one followed file.
#[derive(Debug, Clone)]
pub struct BackupNames {
    /// `<prefix>-`.
    prefix: String,
    /// The extension, with its dot (may be empty).
    ext: String,
}

/// One rotated copy found in the directory.
#[derive(Debug, Clone)]
pub struct Backup {
    /// Its path.
    pub path: PathBuf,
    /// Its identity.
    pub id: FileId,
    /// Its modification time, ns since the epoch.
    pub mtime_ns: i64,
}

impl BackupNames {
    /// The backup names of the file called `file_name`.
    pub fn new(file_name: &str) -> Self {
        let (prefix, ext) = match file_name.rfind('.') {
            Some(dot) => file_name.split_at(dot),
            None => (file_name, ""),
        };
        Self {
            prefix: format!("{prefix}-"),
            ext: ext.to_string(),
        }
    }

    /// `true` when `name` is a backup name of the file.
    pub fn matches(&self, name: &str) -> bool {
        name.strip_prefix(&self.prefix)
            .and_then(|rest| rest.strip_suffix(&self.ext))
            .is_some_and(is_stamp)
    }

    /// `true` when an event about `name` may concern the file or its backups.
    pub fn related(&self, name: &str, file_name: &str) -> bool {
        name == file_name || self.matches(name)
    }

    /// The backups in `dir`, oldest (first rotated) first. A directory that cannot be listed
    /// has none.
    pub fn list(&self, dir: &Path) -> Vec<Backup> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut found: Vec<(String, Backup)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                if !self.matches(&name) {
                    return None;
                }
                let meta = entry.metadata().ok().filter(|m| m.is_file())?;
                Some((
                    name,
                    Backup {
                        path: entry.path(),
                        id: FileId::of(&meta),
                        mtime_ns: mtime_ns(&meta),
                    },
                ))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.into_iter().map(|(_, b)| b).collect()
    }
}

/// `true` for `dddd-dd-ddTdd-dd-dd.ddd`.
fn is_stamp(s: &str) -> bool {
    s.len() == STAMP_LEN
        && s.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 | 13 | 16 => c == b'-',
            10 => c == b'T',
            19 => c == b'.',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_lumberjack_names() {
        let n = BackupNames::new("kube-audit-rest.log");
        assert!(n.matches("kube-audit-rest-2026-11-20T10-15-03.123.log"));
        assert!(!n.matches("kube-audit-rest-2026-11-20T10-15-03.123.log.gz"));
        assert!(!n.matches("kube-audit-rest-2026-11-20T10-15-03.log"));
        assert!(!n.matches("kube-audit-rest.log"));
        assert!(!n.matches("other-2026-11-20T10-15-03.123.log"));
        assert!(n.related("kube-audit-rest.log", "kube-audit-rest.log"));
        assert!(!n.related("x.log", "kube-audit-rest.log"));
        // Go's filepath.Ext: the last dot; no dot, no extension.
        let n = BackupNames::new("audit.json.log");
        assert!(n.matches("audit.json-2026-01-02T03-04-05.006.log"));
        let n = BackupNames::new("audit");
        assert!(n.matches("audit-2026-01-02T03-04-05.006"));
    }

    #[test]
    fn lists_backups_in_rotation_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a-2026-01-02T03-04-05.010.log",
            "a.log",
            "a-2026-01-02T03-04-05.002.log",
            "b-2026-01-02T03-04-05.001.log",
        ] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        std::fs::create_dir(dir.path().join("a-2026-01-02T03-04-05.001.log")).unwrap();
        let got: Vec<_> = BackupNames::new("a.log")
            .list(dir.path())
            .into_iter()
            .map(|b| b.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            got,
            [
                "a-2026-01-02T03-04-05.002.log",
                "a-2026-01-02T03-04-05.010.log"
            ]
        );
        assert!(BackupNames::new("a.log")
            .list(Path::new("/nonexistent"))
            .is_empty());
    }
}
