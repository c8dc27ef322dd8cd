//! The throwaway data folder of a Rulewatch front end watching the sandbox (the
//! desktop's `--sandbox`): a name of its own, marked inside, so that starting the
//! sandbox again clears only a folder it made itself.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The folder's name inside the user's data folder.
pub const NAME: &str = "sandbox-throwaway";
/// The marker file a sandbox folder holds; its text says what the folder is.
const MARKER: &str = "RULEWATCH-SANDBOX-THROWAWAY";

/// A fresh, empty sandbox folder in `parent`: the previous one (with its marker) is
/// removed; a folder of that name without the marker is left alone and refused.
pub fn throwaway_folder(parent: &Path) -> anyhow::Result<PathBuf> {
    let dir = parent.join(NAME);
    if dir.exists() {
        if !dir.join(MARKER).is_file() {
            bail!(
                "{} exists but was not made by Rulewatch's sandbox (it has no {MARKER} file), so it is left alone: \
                 move it elsewhere, then start the sandbox again",
                dir.display()
            );
        }
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("clearing the previous sandbox folder {}", dir.display()))?;
    }
    create_private(&dir)
        .with_context(|| format!("creating the sandbox folder {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "This folder holds the sandbox tenant's throwaway data; Rulewatch deletes it when the sandbox starts again.\n",
    )
    .with_context(|| format!("marking the sandbox folder {}", dir.display()))?;
    Ok(dir)
}

#[cfg(unix)]
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}
