//! What the integration tests share.
//!
//! - [`Sentinel`]: one run of the binary, the way CI runs it. A run ends in
//!   the status it must exit with, so no run goes unchecked:
//!
//!   ```ignore
//!   Sentinel::in_repo(&repo).gate("prod", "v1.2.3")
//!       .stdout_has(row("clean_tree", "FAIL")).blocked();
//!   ```
//!
//!   The child gets a cleared environment (PATH, a private HOME, and what
//!   the test sets), so CI variables on the machine running the tests do
//!   not leak into it. Every expectation is checked and every mismatch is
//!   reported together with the full stdout and stderr.
//! - [`Repo`]: a real git repository in a temporary folder.
//! - [`Server`]: an HTTP server on 127.0.0.1 that reports each request on a
//!   channel and stops when dropped; [`health_url`] is one shared by all.
//! - [`Reaper`]: kills a started process, and whatever it left running,
//!   when the test ends, pass or fail.
//! - [`Prometheus`]: a real Prometheus on 127.0.0.1 with a throwaway data
//!   directory, backfilled with promtool or scraping a test exporter; its
//!   process group is killed when the test ends, pass or fail. A missing
//!   `prometheus` or `promtool` fails the test with the install command.
//! - [`webhook_receiver`] and [`slack_receiver`]: [`Server`]s that take
//!   notifications; the first checks every Standard Webhooks signature on
//!   its own ([`signature_check`]).
//! - [`each_row`]: a table of same-shaped cases, every row run and every
//!   failed row named.

#![allow(dead_code)]

mod process;
mod prometheus;
mod repo;
mod sentinel;
mod server;
mod table;

pub use process::*;
pub use prometheus::*;
pub use repo::*;
pub use sentinel::*;
pub use server::*;
pub use table::*;
