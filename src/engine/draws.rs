//! The request path's random draws: each Service's arrival times and each Deployment's CPU work
//! per request.
//!
//! Both are sequences that depend only on their own random stream — the k-th arrival of a
//! Service follows from the (k−1)-th, and the k-th work sample of a Deployment is the k-th draw
//! of its `service-time/<name>` stream, whenever it is asked for — never on what the simulation
//! did in between. So they can be drawn ahead, on a second thread, while the engine simulates:
//! [`Draws::ahead`] starts a helper thread that fills each sequence in chunks, and the engine
//! reads the values in the same order it would have drawn them. The numbers, hence every
//! output, are the same as [`Draws::inline`]'s, which draws each value when it is needed (the
//! default, and what sweeps use: their threads are all busy already). Drawing is about a third
//! of the request path's time on a small scenario.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::thread::{self, JoinHandle};

use crate::sim::dist::DurationDist;
use crate::sim::{SimRng, SimTime};
use crate::traffic::ArrivalProcess;

/// Memory the drawn-ahead values may take in all (bytes): a day of a large cluster has hundreds
/// of sequences, so chunks shrink as sequences multiply.
const AHEAD_BYTES: usize = 4 << 20;
/// Bounds on the values per chunk handed from the helper thread to the engine.
const CHUNK_RANGE: (usize, usize) = (256, 16384);
/// Chunks a sequence may have drawn and not yet read (beyond the one being filled).
const CHUNKS_AHEAD: usize = 4;
/// The engine wakes the helper after reading about one chunk of every sequence, or this many
/// of one sequence, or when one ran dry: waking it for every chunk would cost a system call
/// each time, and one wake refills every sequence that has room.
const WAKE_AFTER: u32 = 3;
/// Values per cache line.
const LINE_VALUES: usize = 64 / std::mem::size_of::<u64>();
/// Ends an arrival sequence: the process has no arrival left before the run's end.
const NO_MORE: u64 = u64::MAX;

/// Where the request path's draws come from.
pub(super) enum Draws {
    /// Drawn when needed.
    Inline {
        /// Per Service, its arrival process (`None` without `traffic.arrivals`).
        arrivals: Vec<Option<ArrivalProcess>>,
        /// Per Deployment, its `service-time` stream.
        service_time: Vec<SimRng>,
    },
    /// Drawn ahead by a helper thread.
    Ahead(Ahead),
}

impl Draws {
    /// Draws made when needed.
    pub(super) fn inline(arrivals: Vec<Option<ArrivalProcess>>, service_time: Vec<SimRng>) -> Self {
        Draws::Inline {
            arrivals,
            service_time,
        }
    }

    /// Draws made ahead by a helper thread, for a run that starts at 0 and ends at `end`;
    /// `work[d]` is Deployment `d`'s CPU time per request.
    pub(super) fn ahead(
        arrivals: Vec<Option<ArrivalProcess>>,
        service_time: Vec<SimRng>,
        work: Vec<DurationDist>,
        end: SimTime,
    ) -> Self {
        Draws::Ahead(Ahead::start(arrivals, service_time, work, end))
    }

    /// The first arrival of Service `service` after `now`, the previous one's time (or the
    /// start); `None` when there is none before `end`.
    #[inline]
    pub(super) fn next_arrival(
        &mut self,
        service: usize,
        now: SimTime,
        end: SimTime,
    ) -> Option<SimTime> {
        match self {
            Draws::Inline { arrivals, .. } => arrivals[service]
                .as_mut()
                .and_then(|p| p.next_after(now))
                .filter(|t| *t <= end),
            Draws::Ahead(ahead) => {
                let lane = ahead.arrivals[service].as_mut()?;
                let micros = lane.next(&mut ahead.waker);
                if micros == NO_MORE {
                    // Stay on the end mark: asking again must not wait for a chunk that the
                    // helper, done with this sequence, will never send.
                    lane.next -= 1;
                    return None;
                }
                Some(SimTime::from_micros(micros))
            }
        }
    }

    /// The CPU work of Deployment `deployment`'s next request (millicore·µs: its sampled CPU
    /// time at one core).
    #[inline]
    pub(super) fn work(&mut self, deployment: usize, dist: &DurationDist) -> u64 {
        match self {
            Draws::Inline { service_time, .. } => work_of(dist, &mut service_time[deployment]),
            Draws::Ahead(ahead) => ahead.work[deployment].next(&mut ahead.waker),
        }
    }
}

fn work_of(dist: &DurationDist, rng: &mut SimRng) -> u64 {
    dist.sample(rng).as_micros() * 1000
}

/// The engine's side of drawing ahead: one lane per sequence, and the helper thread.
pub(super) struct Ahead {
    arrivals: Vec<Option<Lane>>,
    work: Vec<Lane>,
    waker: Waker,
    helper: Option<JoinHandle<()>>,
}

/// Decides when the engine wakes the helper.
struct Waker {
    helper: Option<thread::Thread>,
    /// Chunks read, of all sequences, since the helper was last woken.
    read: u32,
    /// Wake it when `read` reaches this: the number of sequences.
    every: u32,
    /// Times it was woken: a lane counts its own chunks from the last.
    epoch: u64,
}

impl Waker {
    fn wake(&mut self) {
        self.read = 0;
        self.epoch += 1;
        if let Some(helper) = &self.helper {
            helper.unpark();
        }
    }
}

impl Ahead {
    fn start(
        arrivals: Vec<Option<ArrivalProcess>>,
        service_time: Vec<SimRng>,
        work: Vec<DurationDist>,
        end: SimTime,
    ) -> Self {
        let mut sources = Vec::new();
        let arrival_lanes = arrivals
            .into_iter()
            .map(|process| {
                let process = process?;
                let (lane, feed) = channel();
                sources.push((
                    Source::Arrivals {
                        process,
                        last: SimTime::ZERO,
                        end,
                    },
                    feed,
                ));
                Some(lane)
            })
            .collect();
        let work_lanes = service_time
            .into_iter()
            .zip(work)
            .map(|(rng, dist)| {
                let (lane, feed) = channel();
                sources.push((Source::Work { dist, rng }, feed));
                lane
            })
            .collect();
        // A chunk in the engine, one being filled and `CHUNKS_AHEAD` in between, per sequence.
        let per_sequence = (CHUNKS_AHEAD + 2) * std::mem::size_of::<u64>();
        let sequences = sources.len();
        let chunk =
            (AHEAD_BYTES / (sequences.max(1) * per_sequence)).clamp(CHUNK_RANGE.0, CHUNK_RANGE.1);
        let helper = thread::Builder::new()
            .name("kubesim-draws".into())
            .spawn(move || draw_ahead(sources, chunk))
            .expect("the operating system starts a thread");
        let waker = Waker {
            helper: Some(helper.thread().clone()),
            read: 0,
            every: (sequences as u32).max(WAKE_AFTER),
            epoch: 0,
        };
        Ahead {
            arrivals: arrival_lanes,
            work: work_lanes,
            waker,
            helper: Some(helper),
        }
    }
}

impl Drop for Ahead {
    /// Hangs up every lane (the helper sees it at its next send) and waits for the helper.
    fn drop(&mut self) {
        self.arrivals.clear();
        self.work.clear();
        if let Some(helper) = self.helper.take() {
            helper.thread().unpark();
            // A helper that panicked has nothing more to say: the engine read what it needed.
            let _ = helper.join();
        }
    }
}

/// One sequence as the engine reads it.
struct Lane {
    chunk: Vec<u64>,
    next: usize,
    from: Receiver<Vec<u64>>,
    /// Chunks read since the helper was last woken (as of `epoch`).
    read: u32,
    epoch: u64,
}

impl Lane {
    #[inline]
    fn next(&mut self, waker: &mut Waker) -> u64 {
        if self.next == self.chunk.len() {
            self.refill(waker);
        }
        let value = self.chunk[self.next];
        self.next += 1;
        // The helper wrote the chunk on another core: start loading the line after this one
        // (the engine reads hundreds of sequences in turn, so this one's next read is far off).
        if let Some(ahead) = self.chunk.get(self.next + LINE_VALUES) {
            crate::sim::prefetch_first_line(ahead);
        }
        value
    }

    #[inline(never)]
    fn refill(&mut self, waker: &mut Waker) {
        let chunk = match self.from.try_recv() {
            Ok(chunk) => chunk,
            Err(TryRecvError::Empty) => {
                waker.wake();
                self.from
                    .recv()
                    .expect("the draw-ahead thread runs until the engine is done")
            }
            Err(TryRecvError::Disconnected) => {
                panic!("the draw-ahead thread runs until the engine is done")
            }
        };
        self.chunk = chunk;
        self.next = 0;
        // There is room for more chunks now.
        if self.epoch != waker.epoch {
            (self.read, self.epoch) = (0, waker.epoch);
        }
        self.read += 1;
        waker.read += 1;
        if self.read >= WAKE_AFTER || waker.read >= waker.every {
            waker.wake();
        }
    }
}

/// One sequence as the helper fills it.
struct Feed {
    to: SyncSender<Vec<u64>>,
    /// A chunk drawn that did not fit in the channel yet.
    pending: Option<Vec<u64>>,
    /// The engine hung up, or the sequence ended and its last chunk was sent.
    closed: bool,
}

fn channel() -> (Lane, Feed) {
    let (to, from) = sync_channel(CHUNKS_AHEAD);
    let lane = Lane {
        chunk: Vec::new(),
        next: 0,
        from,
        read: 0,
        epoch: 0,
    };
    let feed = Feed {
        to,
        pending: None,
        closed: false,
    };
    (lane, feed)
}

/// What a sequence is drawn from.
enum Source {
    /// A Service's arrivals: each after the one before, the first after 0.
    Arrivals {
        process: ArrivalProcess,
        last: SimTime,
        end: SimTime,
    },
    /// A Deployment's CPU work per request.
    Work { dist: DurationDist, rng: SimRng },
}

impl Source {
    /// The next chunk of `size` values (fewer if the sequence ends), and whether the sequence
    /// ends with it.
    fn draw(&mut self, size: usize) -> (Vec<u64>, bool) {
        let mut chunk = Vec::with_capacity(size);
        match self {
            Source::Arrivals { process, last, end } => {
                while chunk.len() < size {
                    match process.next_after(*last).filter(|t| t <= end) {
                        Some(t) => {
                            *last = t;
                            chunk.push(t.as_micros());
                        }
                        None => {
                            chunk.push(NO_MORE);
                            return (chunk, true);
                        }
                    }
                }
            }
            Source::Work { dist, rng } => chunk.extend((0..size).map(|_| work_of(dist, rng))),
        }
        (chunk, false)
    }
}

/// The helper thread: keeps every sequence `CHUNKS_AHEAD` chunks ahead of the engine, parking
/// while all are; ends when the engine hangs up.
fn draw_ahead(mut sources: Vec<(Source, Feed)>, chunk_size: usize) {
    let mut ended = vec![false; sources.len()];
    loop {
        let mut progressed = false;
        for ((source, feed), ended) in sources.iter_mut().zip(&mut ended) {
            if feed.closed {
                continue;
            }
            if feed.pending.is_none() && !*ended {
                let (chunk, last) = source.draw(chunk_size);
                feed.pending = Some(chunk);
                *ended = last;
            }
            let Some(chunk) = feed.pending.take() else {
                feed.closed = true; // ended and sent
                continue;
            };
            match feed.to.try_send(chunk) {
                Ok(()) => progressed = true,
                Err(TrySendError::Full(chunk)) => feed.pending = Some(chunk),
                Err(TrySendError::Disconnected(_)) => feed.closed = true,
            }
        }
        if sources.iter().all(|(_, feed)| feed.closed) {
            return;
        }
        if !progressed {
            thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ArrivalPattern, ArrivalShape, RateSegment};
    use crate::sim::{RngStreams, SimDuration};

    /// Three Services — steady, one with a silent hour between two busy ones, and one without
    /// arrivals — and two Deployments with different work distributions.
    fn draws(ahead: bool, end: SimTime) -> Draws {
        let streams = RngStreams::new(7);
        let segment = |secs, rate| RateSegment {
            start: SimTime::from_secs(secs),
            rate_per_sec: rate,
        };
        let bursty = ArrivalPattern {
            segments: vec![segment(0, 50.0), segment(60, 0.0), segment(3660, 2000.0)],
            shape: ArrivalShape::Poisson,
        };
        let arrivals = vec![
            Some(ArrivalProcess::new(
                &ArrivalPattern::constant(300.0),
                streams.stream("a"),
            )),
            Some(ArrivalProcess::new(&bursty, streams.stream("b"))),
            None,
        ];
        let service_time = vec![streams.stream("w0"), streams.stream("w1")];
        if !ahead {
            return Draws::inline(arrivals, service_time);
        }
        let work = vec![
            DurationDist::log_normal(SimDuration::from_millis(20), 1.5),
            DurationDist::exponential(SimDuration::from_millis(3)),
        ];
        Draws::ahead(arrivals, service_time, work, end)
    }

    /// Reads the sequences in an irregular interleaving, as the engine would: arrivals of each
    /// Service chained from the one before, work samples in between.
    fn read(mut d: Draws, end: SimTime, steps: usize) -> Vec<u64> {
        let dists = [
            DurationDist::log_normal(SimDuration::from_millis(20), 1.5),
            DurationDist::exponential(SimDuration::from_millis(3)),
        ];
        let mut last = [SimTime::ZERO; 3];
        let mut out = Vec::new();
        for step in 0..steps {
            let service = [0, 0, 1, 2, 0, 1][step % 6];
            if last[service] != SimTime::MAX {
                let next = d.next_arrival(service, last[service], end);
                last[service] = next.unwrap_or(SimTime::MAX);
                out.push(next.map_or(u64::MAX - 1, SimTime::as_micros));
            }
            let deployment = usize::from(step % 7 == 0);
            out.push(d.work(deployment, &dists[deployment]));
        }
        out
    }

    #[test]
    fn drawing_ahead_gives_the_numbers_drawing_when_needed_gives() {
        let end = SimTime::from_secs(4000);
        // Enough reads to cross many chunks, the silent hour and the end of the run.
        let steps = 120_000;
        let inline = read(draws(false, end), end, steps);
        let ahead = read(draws(true, end), end, steps);
        assert_eq!(inline.len(), ahead.len());
        assert!(
            inline == ahead,
            "first difference at {:?}",
            inline.iter().zip(&ahead).position(|(a, b)| a != b)
        );
        // The bursty Service's arrivals did reach past its silent hour and then the end.
        assert!(inline.contains(&(u64::MAX - 1)));
    }

    #[test]
    fn an_ended_sequence_stays_ended() {
        // Service 1 is silent from 60 s to 3 660 s: with the run ending at 100 s its arrivals
        // end within the first minute, and asking again gives `None` at once instead of waiting.
        let end = SimTime::from_secs(100);
        let mut d = draws(true, end);
        let mut last = SimTime::ZERO;
        while let Some(t) = d.next_arrival(1, last, end) {
            assert!(t <= SimTime::from_secs(60), "{t:?}");
            last = t;
        }
        assert_eq!(d.next_arrival(1, last, end), None);
        assert_eq!(d.next_arrival(1, last, end), None);
    }

    #[test]
    fn an_engine_that_stops_early_stops_its_helper() {
        let end = SimTime::from_secs(1_000_000);
        for reads in [0, 1, 5_000] {
            // Dropping joins the helper: the test would hang if it did not end.
            let _ = read(draws(true, end), end, reads);
        }
    }
}
