//! Loopback addresses for local clusters. All of 127.0.0.0/8 reaches this machine, so
//! each node gets an address of its own and every node can use the ports a VM would.
//! A cluster holds one block, 127.0.N.0/24: the master is 127.0.N.10 and slave i is
//! 127.0.N.(10 + i).
//!
//! Blocks are claimed in a directory shared by every DISCO server of the machine, one
//! file per block naming the cluster directory that holds it. A claim is stale, and
//! taken over, once that directory is gone and no process of the cluster (named by the
//! directory) runs any more. So clusters never collide, whichever server runs them.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Blocks 127.0.0.0/24 to 127.0.255.0/24.
const BLOCKS: u16 = 256;
const MASTER_HOST: u8 = 10;
/// The most slaves a block holds: 127.0.N.11 to 127.0.N.250.
pub const BLOCK_SLAVES: u16 = 240;

/// A cluster's block and its nodes' addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub block: u8,
}

impl Allocation {
    pub fn master(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, self.block, MASTER_HOST)
    }

    /// Slave `index` (from 0).
    pub fn slave(&self, index: u16) -> Ipv4Addr {
        let host = u16::from(MASTER_HOST) + 1 + index.min(BLOCK_SLAVES - 1);
        Ipv4Addr::new(127, 0, self.block, host as u8)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("every loopback block 127.0.0.0/24 to 127.0.255.0/24 is held by a local cluster")]
    Exhausted,
    #[error("claiming a loopback block in {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// The claims directory.
#[derive(Clone)]
pub struct Claims {
    dir: PathBuf,
}

impl Claims {
    pub fn new(dir: impl Into<PathBuf>) -> Claims {
        Claims { dir: dir.into() }
    }

    fn file(&self, block: u8) -> PathBuf {
        self.dir.join(format!("127.0.{block}.0"))
    }

    /// Claims the lowest free block for the cluster whose directory is `owner`.
    pub fn claim(&self, owner: &Path) -> Result<Allocation, ClaimError> {
        let io = |source| ClaimError::Io {
            dir: self.dir.clone(),
            source,
        };
        {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(io)?;
        }
        // One claim at a time, across servers: taking over a stale claim is a remove and
        // a create, which two servers must not interleave.
        let lock = std::fs::File::create(self.dir.join(".lock")).map_err(io)?;
        lock.lock().map_err(io)?;
        for block in 0..BLOCKS {
            let block = block as u8;
            let file = self.file(block);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&file)
            {
                Ok(mut claim) => {
                    claim
                        .write_all(owner.as_os_str().as_encoded_bytes())
                        .map_err(io)?;
                    return Ok(Allocation { block });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if self.is_stale(&file) {
                        // Another server may take it over at the same moment: only one
                        // create_new wins, the other goes on to the next block.
                        let _ = std::fs::remove_file(&file);
                        if let Ok(mut claim) = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&file)
                        {
                            claim
                                .write_all(owner.as_os_str().as_encoded_bytes())
                                .map_err(io)?;
                            return Ok(Allocation { block });
                        }
                    }
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(ClaimError::Exhausted)
    }

    /// A claim is stale when the directory it names is gone and nothing of its cluster
    /// runs (a server that crashed may have left processes bound to the block).
    fn is_stale(&self, file: &Path) -> bool {
        match std::fs::read(file) {
            Ok(owner) if !owner.is_empty() => {
                use std::os::unix::ffi::OsStrExt as _;
                let owner = Path::new(std::ffi::OsStr::from_bytes(&owner));
                let cluster = owner
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Gone means not found: a directory we may not look into is not gone.
                matches!(owner.try_exists(), Ok(false))
                    && super::process::processes_of(&cluster, None).is_empty()
            }
            // Empty: a claim being written right now, or one cut short by a crash; the
            // first is not ours to take, the second costs one block until cleaned.
            _ => false,
        }
    }

    /// Gives back every block `owner` holds (one, unless a crash cut a claim short).
    /// Under the claims lock: a block given back is stale at once, and another server
    /// taking it over must not see its new claim removed as ours.
    pub fn release(&self, owner: &Path) {
        let Ok(lock) = std::fs::File::create(self.dir.join(".lock")) else {
            return;
        };
        if lock.lock().is_err() {
            return;
        }
        for (file, held_by) in self.claims() {
            if held_by == owner {
                let _ = std::fs::remove_file(file);
            }
        }
    }

    /// The cluster directories that hold blocks, whichever server's.
    pub fn owners(&self) -> Vec<PathBuf> {
        self.claims().into_iter().map(|(_, owner)| owner).collect()
    }

    /// Each claim file with the cluster directory it names (empty ones, being written or
    /// cut short, left out).
    fn claims(&self) -> Vec<(PathBuf, PathBuf)> {
        use std::os::unix::ffi::OsStrExt as _;
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| entry.file_name().as_encoded_bytes().starts_with(b"127."))
            .filter_map(|entry| {
                let owner = std::fs::read(entry.path()).ok().filter(|o| !o.is_empty())?;
                let owner = PathBuf::from(std::ffi::OsStr::from_bytes(&owner));
                Some((entry.path(), owner))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_block() {
        let allocation = Allocation { block: 3 };
        assert_eq!(allocation.master(), Ipv4Addr::new(127, 0, 3, 10));
        assert_eq!(allocation.slave(0), Ipv4Addr::new(127, 0, 3, 11));
        assert_eq!(allocation.slave(1), Ipv4Addr::new(127, 0, 3, 12));
        assert_eq!(allocation.slave(239), Ipv4Addr::new(127, 0, 3, 250));
    }

    #[test]
    fn two_clusters_get_different_blocks_and_a_released_block_is_reused() {
        let root = tempfile::tempdir().expect("tempdir");
        let claims = Claims::new(root.path().join("claims"));
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        std::fs::create_dir_all(&a).expect("a");
        std::fs::create_dir_all(&b).expect("b");
        let first = claims.claim(&a).expect("first");
        let second = claims.claim(&b).expect("second");
        assert_ne!(first, second);
        let mut owners = claims.owners();
        owners.sort();
        assert_eq!(owners, vec![a.clone(), b.clone()]);
        claims.release(&b);
        let third = claims.claim(&a).expect("third");
        assert!(
            third != first,
            "a cluster may hold a second block, say after a crash"
        );
        claims.release(&a);
        assert_eq!(claims.owners(), Vec::<PathBuf>::new());
        assert_eq!(claims.claim(&a).expect("again"), first);
    }

    #[test]
    fn a_claim_whose_cluster_directory_is_gone_is_taken_over() {
        let root = tempfile::tempdir().expect("tempdir");
        let claims = Claims::new(root.path().join("claims"));
        let gone = root.path().join("gone");
        std::fs::create_dir_all(&gone).expect("gone");
        let held = claims.claim(&gone).expect("claim");
        std::fs::remove_dir_all(&gone).expect("remove");
        let live = root.path().join("live");
        std::fs::create_dir_all(&live).expect("live");
        assert_eq!(claims.claim(&live).expect("take over"), held);
    }
}
