//! Telling whoever waits on a cluster that it changed, so that event streams look at the
//! database when there is news instead of polling it. The store signals a cluster's id
//! after each commit that changes what a stream shows (a transition, a new reason, a
//! node's report); a waiter subscribes to one cluster and wakes on its signals.
//!
//! A signal carries no data: the waiter reads what changed from the store, so a signal
//! that comes twice, or for a change it has already read, costs one look and no harm.
//! Signals are not lost between a look and the next wait: a waiter marks the news seen
//! before it looks, and any signal after that wakes it.
//!
//! This tells the waiters of one process. With replicas sharing a database (PostgreSQL),
//! each replica's store would turn the database's notifications (`NOTIFY` in the writing
//! transaction, one `LISTEN` connection per replica) into calls of [`Notifier::notify`];
//! the waiters would not change. Their fallback look covers notifications lost while a
//! listener reconnects.
//!
//! The notifier also counts its waiters, per tenant and in all, and refuses one beyond
//! the limits the caller gives: every event stream is a waiter, and it is streams that
//! must be capped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::domain::{ClusterId, TenantId};

/// The clusters waited on, and by whom. Cheap to clone: clones share the waiters.
#[derive(Clone, Default)]
pub struct Notifier {
    waiters: Arc<Mutex<Waiters>>,
}

#[derive(Default)]
struct Waiters {
    /// A channel per cluster someone waits on; its value counts the signals.
    by_cluster: HashMap<ClusterId, watch::Sender<u64>>,
    by_tenant: HashMap<TenantId, usize>,
    total: usize,
}

/// How many waiters a subscription may make: in all, and of one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub total: usize,
    pub per_tenant: usize,
}

/// Why a subscription was refused: a limit is reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    #[error("the server has {0} event streams open, as many as it serves")]
    Server(usize),
    #[error("the tenant has {0} event streams open, as many as a tenant may")]
    Tenant(usize),
}

/// One waiter on one cluster; it stops counting when dropped.
pub struct Subscription {
    cluster: ClusterId,
    tenant: TenantId,
    news: watch::Receiver<u64>,
    waiters: Arc<Mutex<Waiters>>,
}

fn lock(waiters: &Mutex<Waiters>) -> MutexGuard<'_, Waiters> {
    // Nothing under the lock can leave the counts half-changed: a panic there is a
    // bug elsewhere, and the counts are still right.
    waiters
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Notifier {
    /// Wakes everyone waiting on `cluster`; nobody waiting costs a map lookup.
    pub fn notify(&self, cluster: ClusterId) {
        let waiters = lock(&self.waiters);
        if let Some(sender) = waiters.by_cluster.get(&cluster) {
            sender.send_modify(|signals| *signals = signals.wrapping_add(1));
        }
    }

    /// A waiter on `cluster` for `tenant`, unless that would pass `limits`.
    pub fn subscribe(
        &self,
        cluster: ClusterId,
        tenant: &TenantId,
        limits: Limits,
    ) -> Result<Subscription, Full> {
        let mut waiters = lock(&self.waiters);
        if waiters.total >= limits.total {
            return Err(Full::Server(waiters.total));
        }
        let of_tenant = waiters.by_tenant.get(tenant).copied().unwrap_or(0);
        if of_tenant >= limits.per_tenant {
            return Err(Full::Tenant(of_tenant));
        }
        waiters.total += 1;
        *waiters.by_tenant.entry(tenant.clone()).or_insert(0) += 1;
        let news = waiters
            .by_cluster
            .entry(cluster)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Ok(Subscription {
            cluster,
            tenant: tenant.clone(),
            news,
            waiters: Arc::clone(&self.waiters),
        })
    }

    /// How many waiters there are now.
    pub fn waiting(&self) -> usize {
        lock(&self.waiters).total
    }

    /// How many clusters are waited on now.
    pub fn clusters_waited_on(&self) -> usize {
        lock(&self.waiters).by_cluster.len()
    }
}

impl Subscription {
    /// Takes every signal so far as seen: call it before looking at the store, and any
    /// change committed after the look began wakes `changed`.
    pub fn mark_seen(&mut self) {
        self.news.borrow_and_update();
    }

    /// Waits for a signal that came after the last `mark_seen` (at once if one has).
    pub async fn changed(&mut self) {
        // The sender lives as long as any subscription to its cluster, this one too:
        // it cannot close, but if it did there would be no news ever again.
        if self.news.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut waiters = lock(&self.waiters);
        waiters.total = waiters.total.saturating_sub(1);
        if let Some(count) = waiters.by_tenant.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                waiters.by_tenant.remove(&self.tenant);
            }
        }
        // This receiver is dropped only after this returns: being the last one means
        // a count of one. New subscriptions are made under the same lock.
        if waiters
            .by_cluster
            .get(&self.cluster)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            waiters.by_cluster.remove(&self.cluster);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const ROOMY: Limits = Limits {
        total: 100,
        per_tenant: 100,
    };

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).expect("tenant")
    }

    /// Whether `changed` returns within a moment.
    async fn woken(subscription: &mut Subscription) -> bool {
        tokio::time::timeout(Duration::from_millis(50), subscription.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_signal_wakes_the_waiters_on_its_cluster_only() {
        let notifier = Notifier::default();
        let (one, other) = (ClusterId::new(), ClusterId::new());
        let mut first = notifier.subscribe(one, &tenant("a"), ROOMY).expect("room");
        let mut second = notifier.subscribe(one, &tenant("b"), ROOMY).expect("room");
        let mut elsewhere = notifier
            .subscribe(other, &tenant("a"), ROOMY)
            .expect("room");
        assert!(!woken(&mut first).await, "no signal yet");

        notifier.notify(one);
        assert!(woken(&mut first).await);
        assert!(woken(&mut second).await);
        assert!(!woken(&mut elsewhere).await, "another cluster's signal");
        assert!(!woken(&mut first).await, "a signal wakes once");
    }

    #[tokio::test]
    async fn a_signal_between_a_look_and_the_wait_is_not_lost() {
        let notifier = Notifier::default();
        let id = ClusterId::new();
        let mut waiter = notifier.subscribe(id, &tenant("a"), ROOMY).expect("room");
        waiter.mark_seen();
        // ... the waiter looks at the store, and meanwhile a change is committed ...
        notifier.notify(id);
        assert!(woken(&mut waiter).await);
        notifier.notify(id);
        waiter.mark_seen();
        assert!(!woken(&mut waiter).await, "seen before the look");
    }

    #[tokio::test]
    async fn a_waiter_waits_without_waking_until_signalled() {
        let notifier = Notifier::default();
        let id = ClusterId::new();
        let mut waiter = notifier.subscribe(id, &tenant("a"), ROOMY).expect("room");
        let notifier2 = notifier.clone();
        let signal = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            notifier2.notify(id);
        });
        let started = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(5), waiter.changed())
            .await
            .expect("woken by the signal");
        assert!(started.elapsed() >= Duration::from_millis(190));
        signal.await.expect("signalled");
    }

    #[test]
    fn waiters_beyond_a_limit_are_refused_and_dropping_one_makes_room() {
        let notifier = Notifier::default();
        let limits = Limits {
            total: 3,
            per_tenant: 2,
        };
        let id = ClusterId::new();
        let a1 = notifier.subscribe(id, &tenant("a"), limits).expect("room");
        let _a2 = notifier.subscribe(id, &tenant("a"), limits).expect("room");
        assert_eq!(
            notifier.subscribe(id, &tenant("a"), limits).err(),
            Some(Full::Tenant(2))
        );
        let _b1 = notifier.subscribe(id, &tenant("b"), limits).expect("room");
        assert_eq!(
            notifier.subscribe(id, &tenant("c"), limits).err(),
            Some(Full::Server(3))
        );
        assert_eq!(notifier.waiting(), 3);
        drop(a1);
        assert_eq!(notifier.waiting(), 2);
        notifier
            .subscribe(id, &tenant("a"), limits)
            .expect("room again");
    }

    #[test]
    fn a_cluster_nobody_waits_on_is_forgotten() {
        let notifier = Notifier::default();
        let id = ClusterId::new();
        let first = notifier.subscribe(id, &tenant("a"), ROOMY).expect("room");
        let second = notifier.subscribe(id, &tenant("a"), ROOMY).expect("room");
        drop(first);
        assert_eq!(notifier.clusters_waited_on(), 1, "one still waits");
        drop(second);
        assert_eq!(notifier.clusters_waited_on(), 0);
        assert_eq!(notifier.waiting(), 0);
        notifier.notify(id);
    }
}
