//! Processes of local clusters, seen through `/proc`: a recorded process is its PID and
//! its start time, so a PID the kernel gave to another process since is not mistaken for
//! it; and every process of a cluster carries `DISCO_CLUSTER_ID` in its environment
//! (node scripts are started with it, and everything they start inherits it), which finds
//! them all, however they were started.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The variable that marks a process as part of a cluster.
pub const CLUSTER_VARIABLE: &str = "DISCO_CLUSTER_ID";

/// A process as recorded when it was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessRecord {
    pub pid: i32,
    /// Clock ticks after boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
}

impl ProcessRecord {
    /// The record of a running process, read now.
    pub fn of(pid: i32) -> Option<ProcessRecord> {
        let stat = Stat::read(pid)?;
        (!stat.zombie).then_some(ProcessRecord {
            pid,
            start_time: stat.start_time,
        })
    }

    /// Reads `PID START_TIME` as a record file holds it.
    pub fn parse(text: &str) -> Option<ProcessRecord> {
        let mut words = text.split_whitespace();
        let pid = words.next()?.parse().ok().filter(|pid| *pid > 1)?;
        let start_time = words.next()?.parse().ok()?;
        Some(ProcessRecord { pid, start_time })
    }

    pub fn render(&self) -> String {
        format!("{} {}\n", self.pid, self.start_time)
    }

    /// Still running, and still the process that was recorded (a zombie is not running).
    pub fn is_alive(&self) -> bool {
        Stat::read(self.pid).is_some_and(|stat| !stat.zombie && stat.start_time == self.start_time)
    }

    /// The user the process runs as, if it still runs.
    pub fn owner(&self) -> Option<u32> {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(format!("/proc/{}", self.pid))
            .ok()
            .map(|meta| meta.uid())
    }

    /// Sends `signal` to the process group this process leads, if it is still the recorded
    /// process. Returns whether it was sent.
    pub fn signal_group(&self, signal: Signal) -> bool {
        self.is_alive() && killpg(Pid::from_raw(self.pid), signal).is_ok()
    }
}

struct Stat {
    zombie: bool,
    start_time: u64,
}

impl Stat {
    fn read(pid: i32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces and ')'.
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(Stat {
            zombie: matches!(fields.first(), Some(&"Z") | Some(&"X")),
            start_time: fields.get(19)?.parse().ok()?,
        })
    }
}

/// Every live process whose environment says it belongs to `cluster` (and, when given,
/// to the node whose directory is `node_dir`), other than this one. Processes that
/// cannot be read (another user's) are not ours.
pub fn processes_of(cluster: &str, node_dir: Option<&Path>) -> Vec<ProcessRecord> {
    let marker = format!("{CLUSTER_VARIABLE}={cluster}");
    let node_marker = node_dir.map(|dir| format!("DISCO_NODE_DIR={}", dir.display()));
    marked_processes()
        .filter(|(_, env)| {
            let has = |wanted: &str| env.split(|b| *b == 0).any(|v| v == wanted.as_bytes());
            has(&marker) && node_marker.as_deref().is_none_or(has)
        })
        .filter_map(|(pid, _)| ProcessRecord::of(pid))
        .collect()
}

/// Every live process that runs as `uid`, other than this one.
pub fn processes_owned_by(uid: u32) -> Vec<ProcessRecord> {
    use std::os::unix::fs::MetadataExt as _;
    let own = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            (pid != own && entry.metadata().ok()?.uid() == uid).then_some(pid)
        })
        .filter_map(ProcessRecord::of)
        .collect()
}

/// The clusters that have a live process whose node directory is under `dir`: those of
/// the local provider whose clusters' directories `dir` holds, whatever their store says,
/// and none of another server's.
pub fn clusters_running_under(dir: &Path) -> BTreeSet<String> {
    let cluster_prefix = format!("{CLUSTER_VARIABLE}=");
    marked_processes()
        .filter_map(|(pid, env)| {
            let value = |prefix: &str| {
                env.split(|b| *b == 0)
                    .find_map(|v| v.strip_prefix(prefix.as_bytes()))
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            let cluster = value(&cluster_prefix)?;
            let node_dir = PathBuf::from(value("DISCO_NODE_DIR=")?);
            (node_dir.starts_with(dir.join(&cluster)) && ProcessRecord::of(pid).is_some())
                .then_some(cluster)
        })
        .collect()
}

/// Every process other than this one that carries the cluster variable, with its
/// environment.
fn marked_processes() -> impl Iterator<Item = (i32, Vec<u8>)> {
    let own = std::process::id() as i32;
    let marker = format!("{CLUSTER_VARIABLE}=");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(move |pid| *pid != own)
        .filter_map(move |pid| {
            let env = environment(Path::new(&format!("/proc/{pid}/environ")))?;
            env.split(|b| *b == 0)
                .any(|v| v.starts_with(marker.as_bytes()))
                .then_some((pid, env))
        })
}

fn environment(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Sends `signal` to each process (checked to still be the recorded one).
pub fn signal_each(processes: &[ProcessRecord], signal: Signal) {
    for process in processes {
        if process.is_alive() {
            let _ = kill(Pid::from_raw(process.pid), signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_record_that_is_alive() {
        let me = ProcessRecord::of(std::process::id() as i32).expect("own stat");
        assert!(me.is_alive());
        let reused = ProcessRecord {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!reused.is_alive(), "another start time is another process");
    }

    #[test]
    fn records_round_trip_and_reject_nonsense() {
        let record = ProcessRecord {
            pid: 4242,
            start_time: 987654,
        };
        assert_eq!(ProcessRecord::parse(&record.render()), Some(record));
        for bad in ["", "12", "x 1", "1 2", "0 5", "-3 5", "12 y"] {
            assert_eq!(ProcessRecord::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_clusters_running_under_a_directory_are_those_whose_node_directory_it_holds() {
        let root = tempfile::tempdir().expect("tempdir");
        let (ours, theirs) = (root.path().join("ours"), root.path().join("theirs"));
        let cluster = uuid::Uuid::new_v4().to_string();
        let other = uuid::Uuid::new_v4().to_string();
        let start = |id: &str, dir: &Path| {
            std::process::Command::new("sleep")
                .arg("60")
                .env(CLUSTER_VARIABLE, id)
                .env("DISCO_NODE_DIR", dir.join(id).join("nodes/master"))
                .spawn()
                .expect("spawn sleep")
        };
        let mut children = [start(&cluster, &ours), start(&other, &theirs)];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = clusters_running_under(&ours);
        while found.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            found = clusters_running_under(&ours);
        }
        for child in &mut children {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(found, BTreeSet::from([cluster]));
    }

    #[test]
    fn a_cluster_s_processes_are_found_by_their_environment_and_stopped() {
        let cluster = uuid::Uuid::new_v4().to_string();
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .env(CLUSTER_VARIABLE, &cluster)
            .env("DISCO_NODE_DIR", "/nowhere/nodes/slave-2")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        // Until the child has exec'd, /proc shows the parent's environment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = processes_of(&cluster, None);
        while found.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            found = processes_of(&cluster, None);
        }
        assert_eq!(found.iter().map(|p| p.pid).collect::<Vec<_>>(), vec![pid]);
        let node = |name: &str| Path::new("/nowhere/nodes").join(name);
        assert_eq!(processes_of(&cluster, Some(&node("slave-2"))).len(), 1);
        assert!(processes_of(&cluster, Some(&node("master"))).is_empty());
        assert_eq!(
            processes_owned_by(nix::unistd::geteuid().as_raw())
                .iter()
                .filter(|p| p.pid == pid)
                .count(),
            1
        );
        assert_eq!(found[0].owner(), Some(nix::unistd::geteuid().as_raw()));
        assert!(processes_of(&uuid::Uuid::new_v4().to_string(), None).is_empty());
        signal_each(&found, Signal::SIGTERM);
        let status = child.wait().expect("wait");
        assert!(!status.success());
        assert!(processes_of(&cluster, None).is_empty());
    }
}
