//! The data folder and the files in it are the user's alone: the folder is made 0700,
//! the database (and so its WAL, which SQLite creates with the database's mode) and
//! reports 0600. An existing folder that another user owns or others may write is
//! refused: whoever can write there can swap the database Rulewatch trusts.
//! Windows keeps its per-user ACLs on the profile folders; nothing is changed there.
#![warn(missing_docs)]

use std::io;
use std::path::{Path, PathBuf};

/// Why the data folder, or a file in it, cannot be kept private; each message says what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder could not be created, or its details read.
    #[error(
        "cannot create the data folder {path}: {source}. Choose another with --data-dir (RULEWATCH_DATA_DIR)"
    )]
    Create {
        /// The folder.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// Something other than a folder is at the path.
    #[error(
        "the data folder {path} is not a folder: remove it or choose another with --data-dir (RULEWATCH_DATA_DIR)"
    )]
    NotAFolder {
        /// The path given as the folder.
        path: PathBuf,
    },
    /// Another user owns the folder (Unix).
    #[error(
        "the data folder {path} belongs to another user (uid {owner}), who could change what Rulewatch reads: \
         use a folder of your own with --data-dir, or take it over with `sudo chown -R $(id -u) {path}`"
    )]
    OtherOwner {
        /// The folder.
        path: PathBuf,
        /// The owner's user id.
        owner: u32,
    },
    /// The folder's group or others may write in it (Unix).
    #[error(
        "the data folder {path} can be written by other users (mode {mode:o}), who could change what Rulewatch \
         reads: run `chmod 700 {path}` and start again"
    )]
    WritableByOthers {
        /// The folder.
        path: PathBuf,
        /// Its permission bits (`mode & 0o7777`).
        mode: u32,
    },
    /// A file could not be created or made owner-only (0600).
    #[error("cannot make {path} private to you: {source}")]
    Private {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
}

/// Creates the data folder (0700), or checks that an existing one is the user's own and
/// not writable by others.
pub fn prepare(dir: &Path) -> Result<(), FolderError> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(FolderError::NotAFolder { path: dir.into() }),
        Ok(meta) => check_owner_and_mode(dir, &meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            private_dir_builder()
                .create(dir)
                .map_err(|source| FolderError::Create {
                    path: dir.into(),
                    source,
                })
        }
        Err(source) => Err(FolderError::Create {
            path: dir.into(),
            source,
        }),
    }
}

/// Creates `dir` inside the data folder (0700) if it is missing, e.g. `logs/`.
pub fn private_subfolder(dir: &Path) -> Result<(), FolderError> {
    if dir.is_dir() {
        return Ok(());
    }
    private_dir_builder()
        .create(dir)
        .map_err(|source| FolderError::Create {
            path: dir.into(),
            source,
        })
}

#[cfg(unix)]
fn private_dir_builder() -> std::fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true).mode(0o700);
    b
}

#[cfg(not(unix))]
fn private_dir_builder() -> std::fs::DirBuilder {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    b
}

#[cfg(unix)]
fn check_owner_and_mode(dir: &Path, meta: &std::fs::Metadata) -> Result<(), FolderError> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    judge(dir, meta.uid(), meta.mode(), me)
}

#[cfg(not(unix))]
fn check_owner_and_mode(_dir: &Path, _meta: &std::fs::Metadata) -> Result<(), FolderError> {
    Ok(())
}

/// The rule itself, apart from the file system so each case can be tested.
#[cfg(unix)]
fn judge(dir: &Path, owner: u32, mode: u32, me: u32) -> Result<(), FolderError> {
    if owner != me {
        return Err(FolderError::OtherOwner {
            path: dir.into(),
            owner,
        });
    }
    if mode & 0o022 != 0 {
        return Err(FolderError::WritableByOthers {
            path: dir.into(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

/// Makes an existing file readable and writable by its owner only (0600); a missing
/// file is created empty so that what opens it next (SQLite) keeps that mode.
pub fn private_file(path: &Path) -> Result<(), FolderError> {
    let err = |source| FolderError::Private {
        path: path.into(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        options.open(path).map_err(err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    options.open(path).map_err(err)?;
    Ok(())
}

/// Writes `contents` to a file readable by its owner only (a report), replacing one
/// there: an older file's looser mode is narrowed before anything is written into it.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // `mode` applies to a new file only.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    options.open(path)?.write_all(contents)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn a_new_folder_is_private_and_a_loose_one_is_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a").join("rulewatch");
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        prepare(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare(&dir).unwrap_err().to_string();
        assert!(
            e.contains(&format!("chmod 700 {}", dir.display())) && e.contains("777"),
            "{e}"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&dir).expect("readable by others is not writable by others");
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(
            prepare(&file)
                .unwrap_err()
                .to_string()
                .contains("not a folder")
        );
    }

    #[test]
    fn a_folder_of_another_user_is_refused() {
        let dir = Path::new("/srv/rulewatch");
        let e = judge(dir, 1001, 0o700, 1000).unwrap_err().to_string();
        assert!(
            e.contains("another user (uid 1001)") && e.contains("--data-dir"),
            "{e}"
        );
        assert!(judge(dir, 1000, 0o700, 1000).is_ok());
        assert!(
            judge(dir, 1000, 0o770, 1000).is_err(),
            "group-writable is writable by others"
        );
    }

    #[test]
    fn the_store_keeps_its_folder_database_and_wal_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let store = crate::store::Store::open(&dir).unwrap();
        store
            .set_setting(&crate::store::Key::new("probe"), &serde_json::json!(1))
            .unwrap();
        assert_eq!(mode(&dir), 0o700);
        for file in ["rulewatch.db", "rulewatch.db-wal", "rulewatch.db-shm"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
        drop(store);
        // A database from before, readable by everyone, is closed up on the next start.
        std::fs::set_permissions(
            dir.join("rulewatch.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        crate::store::Store::open(&dir).unwrap();
        assert_eq!(mode(&dir.join("rulewatch.db")), 0o600);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o757)).unwrap();
        let e = crate::store::Store::open(&dir).err().unwrap().to_string();
        assert!(e.contains("chmod 700"), "{e}");
    }

    #[test]
    fn files_are_made_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let loose = tmp.path().join("loose.db");
        std::fs::write(&loose, "x").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&loose).unwrap();
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(
            std::fs::read_to_string(&loose).unwrap(),
            "x",
            "the contents stay"
        );
        let report = tmp.path().join("report.html");
        write_private(&report, b"<html>").unwrap();
        assert_eq!(mode(&report), 0o600);
        // A report written again over one a user had opened up is private again.
        std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&report, b"<html>again").unwrap();
        assert_eq!(mode(&report), 0o600);
        assert_eq!(std::fs::read_to_string(&report).unwrap(), "<html>again");
        assert_eq!(
            std::fs::metadata(&report).unwrap().uid(),
            std::fs::metadata(tmp.path()).unwrap().uid()
        );
    }
}
