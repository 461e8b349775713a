//! The data directory's files: small durable writes (write to a temporary name, fsync, rename,
//! so a crash leaves either the old file or the complete new one, never half of it), and the
//! modes that keep other local users out: the directory 0700, every file in it 0600.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

fn write_with(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    // A leftover from a crash may carry other permissions; start from nothing.
    match fs::remove_file(&tmp) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        // Persist the rename itself.
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, false)
}

/// As [`write_atomically`], readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, true)
}

/// Creates the data directory (and missing parents) readable by the owner only. An existing
/// directory keeps its mode; what in it other users could read or enter is returned, for a
/// warning at start (the user may share it on purpose, with a container say).
pub fn prepare_private_dir(dir: &Path) -> io::Result<Vec<String>> {
    if !dir.exists() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)?;
        return Ok(Vec::new());
    }
    let mut loose = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| fs::metadata(path).map(|m| m.permissions().mode() & 0o777);
        let dir_mode = mode(dir)?;
        if dir_mode & 0o077 != 0 {
            loose.push(format!("{} is {dir_mode:o} (expected 700)", dir.display()));
        }
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file()
                && let Ok(file_mode) = mode(&path)
                && file_mode & 0o077 != 0
            {
                loose.push(format!("{} is {file_mode:o} (expected 600)", path.display()));
            }
        }
    }
    Ok(loose)
}

/// Creates `path` empty and readable by the owner only, unless it exists: SQLite gives its
/// WAL and shared-memory files the mode of the database file, so this makes all three 0600.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_data_directory_and_its_files_are_private() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("a/data");
        assert!(prepare_private_dir(&dir).unwrap().is_empty());
        assert_eq!(mode(&dir), 0o700);
        create_private_file(&dir.join("db")).unwrap();
        write_private(&dir.join("key"), b"k").unwrap();
        assert_eq!((mode(&dir.join("db")), mode(&dir.join("key"))), (0o600, 0o600));
        assert!(prepare_private_dir(&dir).unwrap().is_empty());
    }

    #[test]
    fn looser_existing_modes_are_reported() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.join("open"), b"x").unwrap();
        fs::set_permissions(dir.join("open"), fs::Permissions::from_mode(0o644)).unwrap();
        let loose = prepare_private_dir(&dir).unwrap();
        assert_eq!(loose.len(), 2, "{loose:?}");
        assert!(loose[0].ends_with("is 755 (expected 700)"), "{loose:?}");
    }
}
