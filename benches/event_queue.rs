//! Event-queue throughput: the "hold" model at a steady number of pending events. Each
//! iteration pops the earliest event and schedules one later event, as the engine's handlers do.
//! Reported as events per second for 10³ … 10⁶ pending events.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kubesim::sim::{EventQueue, SimTime};

/// A fixed linear congruential sequence: benchmark inputs must not depend on a seed stream.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn filled(pending: usize, lcg: &mut Lcg) -> EventQueue<u32> {
    let mut q = EventQueue::with_capacity(pending + 1);
    for i in 0..pending {
        q.schedule(SimTime::from_micros(lcg.next() % 1_000_000), i as u32);
    }
    q
}

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue_hold");
    const OPS: u64 = 100_000;
    group.throughput(Throughput::Elements(OPS));
    for pending in [1_000usize, 10_000, 100_000, 1_000_000] {
        let mut lcg = Lcg(42);
        let mut q = filled(pending, &mut lcg);
        group.bench_with_input(BenchmarkId::from_parameter(pending), &pending, |b, _| {
            b.iter(|| {
                for _ in 0..OPS {
                    let (t, e) = q.pop().expect("queue stays full");
                    q.schedule(
                        SimTime::from_micros(t.as_micros() + 1 + lcg.next() % 1_000_000),
                        e,
                    );
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);
