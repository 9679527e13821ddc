//! What a file to write holds: bytes in memory (rendered configuration, certificates), or a
//! local file read piece by piece while it is sent (the bundle: binaries and image archives,
//! hundreds of MB that are never held in memory, whatever the number of hosts).

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How much of a local file is read at a time while it is sent: the SSH channel's window
/// bounds what is in flight, so a send holds about this much per channel.
pub const CHUNK: usize = 256 * 1024;

/// A file's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// Held in memory.
    Memory(Arc<[u8]>),
    /// A local file of `len` bytes, read when sent (its checksum was taken when the spec was made).
    Local(Arc<LocalFile>),
}

/// A local file as it was when its checksum was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub path: PathBuf,
    pub len: u64,
    /// What its `stat` said then (`None`: only its size is known).
    pub stamp: Option<Stamp>,
}

/// What identifies a file's version without reading it: any write changes its change time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl Stamp {
    /// Whether both stamps are of the same version of the file: device, inode, size and
    /// modification time. Not the change time: a new hard link or a `chmod` changes it, a
    /// write changes the modification time.
    pub fn same_version(&self, other: &Stamp) -> bool {
        (self.dev, self.ino, self.size, self.mtime_ns) == (other.dev, other.ino, other.size, other.mtime_ns)
    }

    /// The stamp of a file's metadata.
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

impl Contents {
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Contents::Memory(bytes) => bytes.len() as u64,
            Contents::Local(file) => file.len,
        }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when they are in memory.
    pub fn in_memory(&self) -> Option<&[u8]> {
        match self {
            Contents::Memory(bytes) => Some(bytes),
            Contents::Local(_) => None,
        }
    }

    /// The bytes, read from disk for a local file (for transports that cannot stream, and for
    /// tests); a local file that no longer has its size is an error.
    pub fn load(&self) -> std::io::Result<Cow<'_, [u8]>> {
        match self {
            Contents::Memory(bytes) => Ok(Cow::Borrowed(bytes)),
            Contents::Local(file) => {
                let mut bytes = Vec::with_capacity(usize::try_from(file.len).unwrap_or(0));
                file.open()?.read_to_end(&mut bytes)?;
                file.check_len(bytes.len() as u64)?;
                Ok(Cow::Owned(bytes))
            }
        }
    }
}

impl LocalFile {
    /// A local file of `len` bytes.
    pub fn new(path: impl Into<PathBuf>, len: u64) -> LocalFile {
        LocalFile { path: path.into(), len, stamp: None }
    }

    /// A local file as `stamp` describes it (taken before its checksum).
    pub fn stamped(path: impl Into<PathBuf>, stamp: Stamp) -> LocalFile {
        LocalFile { path: path.into(), len: stamp.size, stamp: Some(stamp) }
    }

    /// Opens it for reading (the error names the file).
    pub fn open(&self) -> std::io::Result<File> {
        File::open(&self.path).map_err(|e| with_path(e, &self.path, "open"))
    }

    /// An error unless `read` bytes is the size the file had when its checksum was taken.
    pub fn check_len(&self, read: u64) -> std::io::Result<()> {
        if read == self.len {
            return Ok(());
        }
        Err(std::io::Error::other(format!(
            "{} changed while v6deploy ran ({} bytes when checked, {read} when sent): leave the bundle alone during a run, then run again",
            self.path.display(),
            self.len
        )))
    }
}

impl LocalFile {
    /// After it was sent whole: an error unless the open file (`meta`, its `fstat`) is still
    /// the version that was checksummed ([`Stamp::same_version`]), so what the host got is
    /// what the checksum says; the host does not hash it again.
    pub fn check_unchanged(&self, meta: &std::fs::Metadata) -> std::io::Result<()> {
        self.check_len(meta.len())?;
        match self.stamp {
            Some(then) if !Stamp::of(meta).same_version(&then) => Err(std::io::Error::other(format!(
                "{} changed while v6deploy ran (written after its checksum was taken): leave the bundle alone during a run, then run again",
                self.path.display()
            ))),
            _ => Ok(()),
        }
    }
}

/// `error` with the path and what was done.
pub fn with_path(error: std::io::Error, path: &Path, action: &str) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{action} {}: {error}", path.display()))
}

impl From<Vec<u8>> for Contents {
    fn from(bytes: Vec<u8>) -> Contents {
        Contents::Memory(bytes.into())
    }
}

impl From<&[u8]> for Contents {
    fn from(bytes: &[u8]) -> Contents {
        Contents::Memory(bytes.into())
    }
}

impl<const N: usize> From<&[u8; N]> for Contents {
    fn from(bytes: &[u8; N]) -> Contents {
        Contents::Memory(bytes[..].into())
    }
}

impl From<Arc<[u8]>> for Contents {
    fn from(bytes: Arc<[u8]>) -> Contents {
        Contents::Memory(bytes)
    }
}

impl From<String> for Contents {
    fn from(text: String) -> Contents {
        Contents::Memory(text.into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_file_loads_and_a_changed_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin");
        std::fs::write(&path, b"0123456789").unwrap();
        let contents = Contents::Local(Arc::new(LocalFile::new(&path, 10)));
        assert_eq!(&*contents.load().unwrap(), b"0123456789");
        assert_eq!(contents.len(), 10);
        assert!(contents.in_memory().is_none());
        let changed = Contents::Local(Arc::new(LocalFile::new(&path, 12)));
        let error = changed.load().unwrap_err().to_string();
        assert!(error.contains("changed while v6deploy ran (12 bytes when checked, 10 when sent)"), "{error}");
    }

    /// A file written after its stamp was taken (same size, new contents) is found changed; the
    /// same version passes; a file without a stamp is judged by its size.
    #[test]
    fn a_file_written_after_its_checksum_is_found_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubelet");
        std::fs::write(&path, b"version one").unwrap();
        let file = LocalFile::stamped(&path, Stamp::of(&std::fs::metadata(&path).unwrap()));
        assert!(file.check_unchanged(&std::fs::metadata(&path).unwrap()).is_ok());
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, b"version two").unwrap();
        let changed = file.check_unchanged(&std::fs::metadata(&path).unwrap()).unwrap_err();
        assert!(changed.to_string().contains("changed while v6deploy ran"), "{changed}");
        // A new hard link changes the change time, not the contents: still the same version.
        let file = LocalFile::stamped(&path, Stamp::of(&std::fs::metadata(&path).unwrap()));
        std::fs::hard_link(&path, dir.path().join("linked")).unwrap();
        assert!(file.check_unchanged(&std::fs::metadata(&path).unwrap()).is_ok());
        assert!(LocalFile::new(&path, 11).check_unchanged(&std::fs::metadata(&path).unwrap()).is_ok());
        assert!(LocalFile::new(&path, 3).check_unchanged(&std::fs::metadata(&path).unwrap()).is_err());
    }
}
