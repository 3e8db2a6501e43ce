//! Owner-only files and directories: what a service's data directory and its databases are.
//!
//! A database holds secrets (Exchange's auth certificate key, Skype's callback keys, the token
//! service's credentials), so [`crate::Db::open`] makes its directory `0700` and the database file
//! with its `-wal`, `-shm` and `-journal` companions `0600`: created so, and tightened when they
//! already exist with looser modes (only the group and other bits are removed). SQLite creates
//! the companions with the main file's mode; they are checked after opening all the same.
//!
//! On other platforms than Unix these only create what is missing.

use std::path::{Path, PathBuf};

use crate::StoreError;

/// The mode of a service's data directory.
pub const DIR_MODE: u32 = 0o700;
/// The mode of a database file and of every secret file.
pub const FILE_MODE: u32 = 0o600;

/// The files SQLite keeps beside a database: its WAL, shared memory and rollback journal.
pub const COMPANION_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir` (with its missing parents, each `0700`) if needed and makes it accessible by
/// its owner only: an existing directory loses its group and other permissions.
pub fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(DIR_MODE);
    }
    b.create(dir).map_err(io_err(dir))?;
    tighten(dir)
}

/// Removes the group and other permissions of `path` if it exists (following a symbolic link, as
/// SQLite does when it opens the file).
pub fn tighten(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(path)(e)),
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7700))
                .map_err(io_err(path))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates the new file `path` readable and writable by its owner only (`0600` whatever the
/// umask leaves), failing with `AlreadyExists` when it is there: for secrets written once.
pub fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(FILE_MODE);
    }
    o.open(path)
}

/// Writes the new owner-only file `path` ([`create_new`]) with `bytes`, on disk before it
/// returns: a secret written once.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = create_new(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Creates `path` empty and owner-only if it does not exist, else makes it owner-only.
pub fn ensure_private_file(path: &Path) -> Result<(), StoreError> {
    match create_new(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => tighten(path),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// `path` with `suffix` appended to its file name (`x.sqlite` → `x.sqlite-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Before a database at `path` is opened: its directory private (created if missing; a bare
/// file name's directory, the working directory, is left alone), the file itself created
/// owner-only or tightened, and companions already there tightened.
pub(crate) fn prepare_database(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        ensure_private_dir(dir)?;
    }
    ensure_private_file(path)?;
    tighten_companions(path)
}

/// Tightens the companions of the database at `path` that exist (after SQLite created them).
pub(crate) fn tighten_companions(path: &Path) -> Result<(), StoreError> {
    for suffix in COMPANION_SUFFIXES {
        tighten(&with_suffix(path, suffix))?;
    }
    Ok(())
}
