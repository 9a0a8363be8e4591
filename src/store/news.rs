//! News between the replicas that share a PostgreSQL store: a cluster changed (for the
//! event streams that show it), a job was queued (for the workers), a node reported or
//! a cancel was asked (for the jobs that wait on their provider). Each replica publishes
//! what happens in it with `NOTIFY` and listens, on a connection of its own, for what
//! the others publish; what it hears it hands to this process's waiters, as if it had
//! happened here.
//!
//! News carries no data, as a local signal does not: whoever is woken reads what changed
//! from the store. News lost while a listener reconnects costs a poll's delay (the
//! workers, the jobs and the streams all look again by themselves), never a change.
//! On SQLite there is one process and nothing to tell.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::db::params;
use super::{Backend, Location, Store};
use crate::domain::ClusterId;

/// The channel the replicas publish on.
const CHANNEL: &str = "disco_news";

/// What happened, as a replica tells the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    /// A cluster changed what its event stream shows.
    Changed(ClusterId),
    /// A job was queued (or made due): a worker may claim it.
    Queued,
    /// A node reported, or a cancel was asked: running jobs look at their provider.
    Nudge,
}

impl News {
    /// The payload: what, and who says it ("changed UUID FROM", "queued FROM").
    fn encode(self, from: &str) -> String {
        match self {
            News::Changed(id) => format!("changed {id} {from}"),
            News::Queued => format!("queued {from}"),
            News::Nudge => format!("nudge {from}"),
        }
    }

    /// A payload read back, with who sent it; `None` for one this build does not know.
    fn decode(payload: &str) -> Option<(News, &str)> {
        let (what, rest) = payload.split_once(' ')?;
        match what {
            "changed" => {
                let (id, from) = rest.split_once(' ')?;
                Some((News::Changed(id.parse().ok()?), from))
            }
            "queued" => Some((News::Queued, rest)),
            "nudge" => Some((News::Nudge, rest)),
            _ => None,
        }
    }
}

/// Stops the listener when dropped.
pub struct Listening {
    stop: Arc<AtomicBool>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Store {
    /// Tells this process's waiters that `cluster` changed, and the other replicas'.
    pub(super) fn changed(&self, cluster: ClusterId) {
        self.notifier.notify(cluster);
        self.publish(News::Changed(cluster));
    }

    /// Tells the other replicas (none on SQLite) that `news` happened here. Sent after
    /// the commit it is about, on a connection of the pool, without waiting for it.
    pub fn publish(&self, news: News) {
        if self.backend != Backend::Postgres {
            return;
        }
        let payload = news.encode(&self.replica.name);
        let store = self.clone();
        tokio::spawn(async move {
            let sent = store
                .read(move |conn| {
                    conn.query_row(
                        "SELECT pg_notify(?1, ?2)::TEXT",
                        params![CHANNEL, payload],
                        |row| row.get::<Option<String>>(0),
                    )
                })
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "telling the other replicas");
            }
        });
    }

    /// Hands what the other replicas publish to `heard`, on a thread of its own with a
    /// connection of its own, until the result is dropped; `None` on SQLite. A lost
    /// connection is made again, a second later.
    pub fn listen(&self, heard: impl Fn(News) + Send + 'static) -> Option<Listening> {
        let Location::Postgres(url) = &*self.location else {
            return None;
        };
        let config = url.config().clone();
        let me = self.replica.name.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("disco-news".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    if let Err(e) = listen_once(&config, &me, &stopped, &heard) {
                        tracing::warn!(error = %super::postgres_message(&e), "listening to the other replicas; again in 1 s");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            })
            .expect("a thread for the news");
        Some(Listening { stop })
    }
}

/// Listens on one connection until it fails or `stop` is set.
fn listen_once(
    config: &postgres::Config,
    me: &str,
    stop: &AtomicBool,
    heard: &impl Fn(News),
) -> Result<(), postgres::Error> {
    let mut client = config.connect(postgres::NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    // What the others published while this listener was away is not heard: the jobs
    // and streams look again by themselves, and the workers are woken now.
    heard(News::Queued);
    while !stop.load(Ordering::Relaxed) {
        {
            let mut notifications = client.notifications();
            let mut arrived = notifications.timeout_iter(Duration::from_millis(500));
            while let Some(note) = arrived.next()? {
                match News::decode(note.payload()) {
                    Some((_, from)) if from == me => {}
                    Some((news, _)) => heard(news),
                    None => {
                        tracing::debug!(payload = note.payload(), "news this build does not know")
                    }
                }
            }
        }
        if client.is_closed() {
            return client.batch_execute("SELECT 1");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::News;
    use crate::domain::ClusterId;

    #[test]
    fn news_reads_back_as_sent_with_its_sender() {
        let id = ClusterId::new();
        for news in [News::Changed(id), News::Queued, News::Nudge] {
            let payload = news.encode("db1:8888");
            assert_eq!(
                News::decode(&payload),
                Some((news, "db1:8888")),
                "{payload}"
            );
        }
        assert_eq!(News::decode("changed not-a-uuid x"), None);
        assert_eq!(News::decode("reboot x"), None);
        assert_eq!(News::decode("queued"), None, "who says it is part of it");
        assert_eq!(
            News::decode("nudge a name with spaces"),
            Some((News::Nudge, "a name with spaces"))
        );
    }
}
