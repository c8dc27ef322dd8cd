//! The throwaway folder a front end keeps the sandbox tenant's data in.

use m365_sandbox::folder::{NAME, throwaway_folder};

#[test]
fn starting_again_clears_only_a_folder_the_sandbox_made() {
    let parent = tempfile::tempdir().unwrap();
    let dir = throwaway_folder(parent.path()).unwrap();
    assert_eq!(dir, parent.path().join(NAME));
    std::fs::write(dir.join("rulewatch.db"), "old").unwrap();
    let again = throwaway_folder(parent.path()).unwrap();
    assert!(
        !again.join("rulewatch.db").exists(),
        "the previous sandbox data is cleared"
    );

    // A folder of that name that the sandbox did not make is never deleted.
    let other = tempfile::tempdir().unwrap();
    let theirs = other.path().join(NAME);
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("precious.txt"), "keep me").unwrap();
    let e = throwaway_folder(other.path()).unwrap_err().to_string();
    assert!(
        e.contains("was not made by Rulewatch's sandbox") && e.contains("move it elsewhere"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(theirs.join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
#[cfg(unix)]
fn the_folder_is_private() {
    use std::os::unix::fs::MetadataExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = throwaway_folder(parent.path()).unwrap();
    assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
}
