//! `kubesim calibrate` (issue 50, part 1; being built): fitting a workload model to a service's
//! Prometheus metrics. `scenario::prom_export` reads the exports; [`fit`] holds the arithmetic —
//! pure functions of aligned series, each saying what the data can identify.

pub mod fit;
