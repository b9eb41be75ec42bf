//! The checks, as two registries: the policy gates
//! ([`policy::GATES`], in their fixed order, each with what it needs) and
//! the health-check kinds ([`health`], each owning its config section,
//! validation, budget and run function).
//!
//! A check takes what it needs and returns an
//! [`Outcome`](crate::report::Outcome): a failed check is data, not an
//! error. Checks never print and never read the process environment
//! directly; they get an [`EnvSnapshot`](crate::envsnap::EnvSnapshot).

pub mod health;
pub mod policy;
