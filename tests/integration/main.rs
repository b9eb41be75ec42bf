//! Integration tests: the built binary against real git repositories in
//! temporary folders. One test binary, so it is built and linked once.

mod harness;

mod ci;
mod cli;
mod config;
mod gates;
mod hardening;
mod health;
mod output;
mod pack;
mod readme;
mod report;
mod secrets;
mod tags;
mod toolkit;
mod workflows;
