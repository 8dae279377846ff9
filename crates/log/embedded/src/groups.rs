//! In-process consumer groups: members with the same group id split the partitions of their
//! subscribed topics with Kafka's range assignment, and are reassigned whenever a member joins
//! or leaves (is dropped) or a subscribed topic appears.

use aisle_log::TopicPartition;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::Notify;

/// Where the coordinator leaves a member's new assignment.
#[derive(Debug, Default)]
pub struct Mailbox {
    /// The latest assignment not yet taken by the member, with its generation.
    pub assignment: Mutex<Option<(u64, Vec<TopicPartition>)>>,
    /// Wakes a member waiting in `poll`.
    pub notify: Notify,
}

#[derive(Debug)]
struct Member {
    topics: Vec<String>,
    mailbox: Arc<Mailbox>,
}

#[derive(Debug, Default)]
struct Group {
    members: BTreeMap<u64, Member>,
    generation: u64,
}

/// All groups of one log.
#[derive(Debug, Default)]
pub struct Coordinator {
    groups: Mutex<HashMap<String, Group>>,
    next_member: Mutex<u64>,
}

/// Kafka's `RangeAssignor` for one topic: members sorted by id, each gets a contiguous range,
/// the first `partitions % members` get one extra.
pub fn range_assign(partitions: i32, members: usize) -> Vec<std::ops::Range<i32>> {
    if members == 0 {
        return Vec::new();
    }
    let per = partitions / members as i32;
    let extra = partitions % members as i32;
    let mut start = 0;
    (0..members as i32)
        .map(|i| {
            let n = per + i32::from(i < extra);
            let r = start..start + n;
            start += n;
            r
        })
        .collect()
}

impl Coordinator {
    /// Adds a member subscribed to `topics`; returns its id and mailbox (already holding its
    /// first assignment).
    pub fn join(
        &self,
        group: &str,
        topics: &[&str],
        partitions_of: &dyn Fn(&str) -> Option<i32>,
    ) -> (u64, Arc<Mailbox>) {
        let id = {
            let mut n = self.next_member.lock();
            *n += 1;
            *n
        };
        let mailbox = Arc::new(Mailbox::default());
        let mut groups = self.groups.lock();
        let g = groups.entry(group.to_owned()).or_default();
        let topics = topics.iter().map(|t| (*t).to_owned()).collect();
        g.members.insert(
            id,
            Member {
                topics,
                mailbox: mailbox.clone(),
            },
        );
        rebalance(g, partitions_of);
        (id, mailbox)
    }

    /// Removes a member and hands its partitions to the others.
    pub fn leave(&self, group: &str, member: u64, partitions_of: &dyn Fn(&str) -> Option<i32>) {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get_mut(group) {
            g.members.remove(&member);
            if g.members.is_empty() {
                groups.remove(group);
            } else {
                rebalance(g, partitions_of);
            }
        }
    }

    /// Reassigns every group subscribed to `topic` (it was created or deleted).
    pub fn topic_changed(&self, topic: &str, partitions_of: &dyn Fn(&str) -> Option<i32>) {
        let mut groups = self.groups.lock();
        for g in groups.values_mut() {
            if g.members
                .values()
                .any(|m| m.topics.iter().any(|t| t == topic))
            {
                rebalance(g, partitions_of);
            }
        }
    }

    /// The generation of a group (0 if unknown).
    #[cfg(test)]
    pub fn generation(&self, group: &str) -> u64 {
        self.groups.lock().get(group).map_or(0, |g| g.generation)
    }
}

fn rebalance(g: &mut Group, partitions_of: &dyn Fn(&str) -> Option<i32>) {
    g.generation += 1;
    let topics: BTreeSet<&String> = g.members.values().flat_map(|m| m.topics.iter()).collect();
    let mut out: BTreeMap<u64, Vec<TopicPartition>> =
        g.members.keys().map(|id| (*id, Vec::new())).collect();
    for t in topics {
        let Some(n) = partitions_of(t) else { continue };
        let subs: Vec<u64> = g
            .members
            .iter()
            .filter(|(_, m)| m.topics.contains(t))
            .map(|(id, _)| *id)
            .collect();
        for (id, range) in subs.iter().zip(range_assign(n, subs.len())) {
            if let Some(v) = out.get_mut(id) {
                v.extend(range.map(|p| TopicPartition::new(t.as_str(), p)));
            }
        }
    }
    for (id, parts) in out {
        if let Some(m) = g.members.get(&id) {
            *m.mailbox.assignment.lock() = Some((g.generation, parts));
            m.mailbox.notify.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignment_matches_kafka() {
        assert_eq!(range_assign(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(range_assign(2, 3), vec![0..1, 1..2, 2..2]);
        assert!(range_assign(5, 0).is_empty());
    }

    #[test]
    fn members_split_and_take_over() {
        let c = Coordinator::default();
        let parts = |t: &str| (t == "t").then_some(4);
        let (a, ma) = c.join("g", &["t"], &parts);
        assert_eq!(ma.assignment.lock().as_ref().unwrap().1.len(), 4);
        let (_b, mb) = c.join("g", &["t"], &parts);
        let got_a = ma.assignment.lock().take().unwrap().1;
        let got_b = mb.assignment.lock().take().unwrap().1;
        assert_eq!(got_a.len(), 2);
        assert_eq!(got_b.len(), 2);
        assert!(got_a.iter().all(|tp| !got_b.contains(tp)));
        c.leave("g", a, &parts);
        assert_eq!(mb.assignment.lock().take().unwrap().1.len(), 4);
        assert!(c.generation("g") >= 3);
    }
}
