//! Closed-loop clients (`arrivals.closedLoop`): users who each send a request to their Service,
//! wait for its answer — served or failed — and their think time, and send the next. Their
//! count follows the stages: a user joins at once when the count goes up, and one leaves when
//! its answer comes while there are more users than the count.
//!
//! A user whose request failed waits at least [`AFTER_FAILURE`] before it sends again, so a
//! Service without endpoints costs a few events a second per user, not an unbounded number at
//! one instant. Each Service's users draw their think times from the stream `clients/<name>`.

use std::sync::Arc;

use super::{Engine, Event};
use crate::cluster::ServiceId;
use crate::scenario::{ArrivalShape, ClosedLoop, Scenario};
use crate::sim::rng::RngStreams;
use crate::sim::{SimDuration, SimRng, SimTime};

/// The least a user waits after a failed request.
pub const AFTER_FAILURE: SimDuration = SimDuration::from_secs(1);

/// One Service's users.
pub(super) struct Users {
    spec: Arc<ClosedLoop>,
    /// Users alive: waiting for an answer or thinking.
    active: u32,
    /// Users there should be now.
    target: u32,
    /// The next of `spec.changes` to apply.
    next_change: usize,
    rng: SimRng,
}

/// The users of every Service with a closed loop, by Service.
pub(super) fn users_of(s: &Scenario, streams: &RngStreams) -> Vec<Option<Users>> {
    s.services
        .iter()
        .map(|x| {
            let ArrivalShape::ClosedLoop(spec) = &x.traffic.as_ref()?.arrivals.as_ref()?.shape
            else {
                return None;
            };
            Some(Users {
                spec: Arc::clone(spec),
                active: 0,
                target: spec.users,
                next_change: 0,
                rng: streams.stream(&format!("clients/{}", x.name)),
            })
        })
        .collect()
}

impl Engine<'_, '_> {
    /// At t = 0: every closed loop's first users send, and its first change is scheduled.
    pub(super) fn start_users(&mut self) {
        for s in 0..self.users.len() {
            let service = ServiceId(s as u32);
            let Some(users) = self.users[s].as_mut() else {
                continue;
            };
            users.active = users.target;
            let first_change = users.spec.changes.first().map(|c| c.0);
            for _ in 0..users.target {
                self.queue
                    .schedule(SimTime::ZERO, Event::Arrival { service });
            }
            if let Some(at) = first_change.filter(|t| *t <= self.end) {
                self.queue.schedule(at, Event::UsersChange { service });
            }
        }
    }

    /// The user count of `service` changes now: new users send at once; surplus ones leave as
    /// their answers come.
    pub(super) fn on_users_change(&mut self, service: ServiceId) {
        let Some(users) = self.users[service.index()].as_mut() else {
            return;
        };
        let now = self.now;
        let mut next = None;
        while let Some(&(at, target)) = users.spec.changes.get(users.next_change) {
            if at > now {
                next = Some(at);
                break;
            }
            users.target = target;
            users.next_change += 1;
        }
        let joining = users.target.saturating_sub(users.active);
        users.active += joining;
        for _ in 0..joining {
            self.queue.schedule(now, Event::Arrival { service });
        }
        if let Some(at) = next.filter(|t| *t <= self.end) {
            self.queue.schedule(at, Event::UsersChange { service });
        }
    }

    /// A request from outside to `service` is over (answered, or failed with `failed`): if the
    /// Service's users sent it, that user thinks and sends again, or leaves.
    #[inline]
    pub(super) fn answered(&mut self, service: ServiceId, failed: bool) {
        if self.has_users {
            self.user_answered(service, failed);
        }
    }

    #[inline(never)]
    fn user_answered(&mut self, service: ServiceId, failed: bool) {
        let Some(users) = self.users[service.index()].as_mut() else {
            return;
        };
        if users.active > users.target {
            users.active -= 1;
            return;
        }
        let mut wait = users.spec.think.sample(&mut users.rng);
        if failed {
            wait = wait.max(AFTER_FAILURE);
        }
        let at = self.now + wait;
        if at <= self.end {
            self.queue.schedule(at, Event::Arrival { service });
        }
    }
}
