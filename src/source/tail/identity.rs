//! Which file is which: the (device, inode) identity that survives a rename, and a
//! fingerprint of the first bytes, so that a reused inode is not taken for the file a cursor
//! or a checkpoint names.

use serde::{Deserialize, Serialize};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

/// Bytes at the beginning of a file that its fingerprint covers (at most).
pub const HEAD_BYTES: usize = 1024;

/// A file's identity while it exists: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileId {
    /// The identity of the file `meta` describes.
    pub fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Modification time of the file `meta` describes, in ns since the epoch.
pub fn mtime_ns(meta: &Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// A file as cursors and checkpoints name it: identity plus fingerprint of its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileKey {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// How many of the first bytes the hash covers (at most [`HEAD_BYTES`]).
    pub head_len: u32,
    /// FNV-1a 64 of those bytes.
    pub head_hash: u64,
}

impl FileKey {
    /// The (device, inode) part.
    pub fn id(&self) -> FileId {
        FileId {
            dev: self.dev,
            ino: self.ino,
        }
    }

    /// `true` when `file` begins with the bytes this key's fingerprint covers.
    pub fn head_matches(&self, file: &File) -> io::Result<bool> {
        let len = usize::try_from(self.head_len).unwrap_or(usize::MAX);
        if len > HEAD_BYTES {
            return Ok(false);
        }
        let mut buf = vec![0; len];
        Ok(read_head(file, &mut buf)? == len && fnv1a(&buf) == self.head_hash)
    }
}

/// The first bytes of an open file as far as they have been read (at most [`HEAD_BYTES`]).
#[derive(Debug, Clone, Default)]
pub struct Head {
    bytes: Vec<u8>,
    hash: u64,
}

impl Head {
    /// Reads the first `min(len, HEAD_BYTES)` bytes of `file` (fewer if it is shorter).
    pub fn read(file: &File, len: u64) -> io::Result<Self> {
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(HEAD_BYTES);
        let mut bytes = vec![0; len];
        let got = read_head(file, &mut bytes)?;
        bytes.truncate(got);
        let hash = fnv1a(&bytes);
        Ok(Self { bytes, hash })
    }

    /// Takes in `data`, just read at offset `at`, when it continues the head.
    pub fn extend(&mut self, at: u64, data: &[u8]) {
        let have = self.bytes.len();
        if have >= HEAD_BYTES || at != have as u64 {
            return;
        }
        let take = data.len().min(HEAD_BYTES - have);
        if take > 0 {
            self.bytes.extend_from_slice(&data[..take]);
            self.hash = fnv1a(&self.bytes);
        }
    }

    /// The key of the file with this head.
    pub fn key(&self, id: FileId) -> FileKey {
        FileKey {
            dev: id.dev,
            ino: id.ino,
            head_len: self.bytes.len() as u32,
            head_hash: self.hash,
        }
    }

    /// `true` when `file` still begins with these bytes (it was not truncated and rewritten).
    pub fn still_matches(&self, file: &File) -> io::Result<bool> {
        let mut buf = vec![0; self.bytes.len()];
        Ok(read_head(file, &mut buf)? == buf.len() && buf == self.bytes)
    }
}

/// Fills `buf` from offset 0 of `file`; the number of bytes read (less at the end of the file).
fn read_head(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// FNV-1a, 64 bits: stable across builds (the checkpoint outlives the binary that wrote it).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fnv_is_the_published_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_head_grows_to_its_limit_and_tells_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut w = File::create(&path).unwrap();
        w.write_all(b"hello\n").unwrap();
        let f = File::open(&path).unwrap();
        let id = FileId::of(&f.metadata().unwrap());
        let mut head = Head::read(&f, 3).unwrap();
        assert_eq!(head.key(id).head_len, 3);
        head.extend(5, b"xx"); // not contiguous: ignored
        assert_eq!(head.key(id).head_len, 3);
        head.extend(3, b"lo\n");
        let key = head.key(id);
        assert_eq!((key.head_len, key.head_hash), (6, fnv1a(b"hello\n")));
        assert!(key.head_matches(&f).unwrap());
        assert!(head.still_matches(&f).unwrap());

        w.write_all(&[b'x'; 2000]).unwrap();
        head.extend(6, &[b'x'; 2000]);
        assert_eq!(head.key(id).head_len as usize, HEAD_BYTES);
        assert!(head.key(id).head_matches(&f).unwrap());

        // Truncated and rewritten: the head no longer matches.
        let w2 = File::options().write(true).open(&path).unwrap();
        w2.set_len(0).unwrap();
        w2.write_at(b"other\n", 0).unwrap();
        assert!(!head.still_matches(&f).unwrap());
        assert!(!key.head_matches(&f).unwrap());
        assert_eq!(key.id(), id);
    }
}
