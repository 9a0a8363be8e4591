//! Files of local clusters, read and written by a server that may be root in
//! directories a cluster's user writes in: nothing here follows a link such a user could
//! have put in DISCO's way, and nothing reads more than a record's worth of what the
//! user wrote.

use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use tokio::io::AsyncReadExt as _;

use super::io_error;
use super::users::Account;
use crate::providers::ProviderError;

/// The most DISCO reads of a file a node wrote (a record, a signal).
const MOST_READ: u64 = 64 * 1024;

/// A directory only this user can enter (node directories hold secrets: the script,
/// tokens).
pub(super) async fn create_private_dir(path: &Path) -> Result<(), ProviderError> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|e| io_error("creating", path, e))?;
    set_mode(path, 0o700).await
}

/// A directory of DISCO's that a cluster's user may pass through to its own, but not
/// list.
pub(super) async fn open_to_search(path: &Path) -> Result<(), ProviderError> {
    set_mode(path, 0o711).await
}

/// Gives a directory to the cluster's user, for it alone.
pub(super) async fn give(path: &Path, account: Account) -> Result<(), ProviderError> {
    own(
        path,
        Some(account.uid.as_raw()),
        Some(account.gid.as_raw()),
        0o700,
    )
    .await
}

/// A file of DISCO's that the cluster's user may read: its group's, mode 0640.
pub(super) async fn readable_by_group(path: &Path, account: Account) -> Result<(), ProviderError> {
    own(path, None, Some(account.gid.as_raw()), 0o640).await
}

/// Sets the owner and group (those given) of a file or directory, not through a link,
/// then its mode.
pub(super) async fn own(
    path: &Path,
    uid: Option<u32>,
    gid: Option<u32>,
    mode: u32,
) -> Result<(), ProviderError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || std::os::unix::fs::lchown(&owned, uid, gid))
        .await
        .map_err(|e| ProviderError::Transient(format!("chown {}: {e}", path.display())))?
        .map_err(|e| io_error("changing the owner of", path, e))?;
    set_mode(path, mode).await
}

async fn set_mode(path: &Path, mode: u32) -> Result<(), ProviderError> {
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .await
        .map_err(|e| io_error("setting the mode of", path, e))
}

/// Writes beside and renames, so a reader never sees half a file. The file beside is
/// made anew (never through a link left in its place), and the rename replaces a link
/// at `path` rather than writing where it points.
pub(super) async fn write_whole(path: &Path, contents: &[u8]) -> Result<(), ProviderError> {
    let partial = path.with_extension("partial");
    match tokio::fs::remove_file(&partial).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("removing", &partial, e)),
    }
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .await
        .map_err(|e| io_error("writing", &partial, e))?;
    tokio::io::AsyncWriteExt::write_all(&mut file, contents)
        .await
        .map_err(|e| io_error("writing", &partial, e))?;
    // tokio's file hands the write to a blocking thread: without the flush the rename
    // can come first, and the file be read empty.
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| io_error("writing", &partial, e))?;
    drop(file);
    tokio::fs::rename(&partial, path)
        .await
        .map_err(|e| io_error("renaming to", path, e))
}

/// Opens a log for appending; a link in its place is refused.
pub(super) fn open_log(path: &Path) -> Result<std::fs::File, ProviderError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| io_error("opening", path, e))
}

/// What a node wrote, at most `MOST_READ` bytes of it; `None` when it is absent,
/// unreadable, or a link.
pub(super) async fn read_user_file(path: &Path) -> Option<Vec<u8>> {
    let file = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .await
        .ok()?;
    // A FIFO would block the read for ever: only a regular file is read.
    if !file.metadata().await.ok()?.is_file() {
        return None;
    }
    let mut data = Vec::new();
    file.take(MOST_READ).read_to_end(&mut data).await.ok()?;
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn links_put_in_disco_s_way_are_neither_followed_nor_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "private").expect("write");
        let link = dir.path().join("signal.json");
        std::os::unix::fs::symlink(&secret, &link).expect("link");
        assert_eq!(read_user_file(&link).await, None, "a link is not read");
        assert!(
            open_log(&link).is_err(),
            "a log is not opened through a link"
        );

        // A link where the partial file goes, and at the file itself.
        let target = dir.path().join("exit");
        std::os::unix::fs::symlink(&secret, dir.path().join("exit.partial")).expect("link");
        std::os::unix::fs::symlink(&secret, &target).expect("link");
        write_whole(&target, b"0").await.expect("written");
        assert_eq!(std::fs::read_to_string(&secret).expect("read"), "private");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "0");
        assert!(
            !std::fs::symlink_metadata(&target)
                .expect("meta")
                .is_symlink()
        );

        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 200 * 1024]).expect("write");
        assert_eq!(read_user_file(&big).await.map(|d| d.len()), Some(64 * 1024));
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo"))
            .status()
            .expect("mkfifo");
        assert!(made.success());
        assert_eq!(read_user_file(&dir.path().join("fifo")).await, None);
    }
}
