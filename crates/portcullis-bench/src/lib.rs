//! Benchmarks of Portcullis (issue 8): each core operation beside the cost of ring's raw
//! primitive for the same work, and how the stores scale with the number of live tokens.
//!
//! The workloads live here, shared by the criterion benches (`cargo bench -p
//! portcullis-bench`, detailed statistics) and by two binaries that print the tables of
//! `docs/BENCHMARKS.md`: `report` (medians and our/ring ratios) and `memory` (heap bytes
//! per live token in the memory store, under a counting allocator).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod core_ops;
mod fixtures;
mod flow;
mod growth;
mod measure;
mod resource;
mod scale;

pub use core_ops::{CoreOps, Signer};
pub use fixtures::{delegated_token, Delegated, ISSUER};
pub use flow::{memory_provider, CodeFlow};
pub use growth::{grow_memory_store, quantile_ns, GrowthTimes, InsertTimes};
pub use measure::{batch_for, median_ns, paired_median_ns};
pub use scale::{IssueTimes, ScaledStore, StoreKind};
