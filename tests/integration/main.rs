//! Integration tests: the built binary against real git repositories in
//! temporary folders. One test binary, so it is built and linked once.

mod harness;
mod tools;

mod backup;
mod bundle;
mod cli;
mod config;
mod evidence;
mod fleet;
mod formats;
mod freeze;
mod freshness;
mod gates;
mod golive;
mod health;
mod notify;
mod output;
mod pack;
mod parity;
mod predeploy;
mod readme;
mod ready;
mod report;
mod rotate;
mod secrets;
mod signals;
mod signing;
mod snippets;
mod tags;
mod terminal;
mod times;
mod verify;
mod workflows;
