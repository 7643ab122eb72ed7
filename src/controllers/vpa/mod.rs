//! The Vertical Pod Autoscaler (kubernetes/autoscaler `vertical-pod-autoscaler` 1.7.1): the
//! recommender's usage histograms ([`histogram`]), its per-container aggregation of CPU
//! samples, memory peaks and OOM kills ([`aggregate`]), and the estimators that turn them into
//! a target with lower and upper bounds ([`estimator`]), the policy's caps ([`policy`]) and the
//! recommender that runs them every loop ([`recommender`]); then, per pod, the recommendation
//! fitted to LimitRanges and limits ([`capping`]), what admission writes into a pod
//! ([`admission`]) and which pods the updater picks ([`updater`]).

pub mod admission;
pub mod aggregate;
pub mod capping;
pub mod estimator;
pub mod histogram;
pub mod policy;
pub mod recommender;
pub mod updater;
