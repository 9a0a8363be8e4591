//! Integration tests: the real server on a random port, driven over HTTP.

mod bad_input;
mod browser;
mod catalogue;
mod cli;
mod control_characters;
mod create;
mod dashboard;
mod delete;
mod events;
mod file_provider;
mod guard;
mod heat;
mod helpers;
mod lifecycle;
mod local;
mod openstack;
mod parameters;
mod plans;
mod query_interface;
mod refusals;
mod renderings;
mod restart;
mod secrets;
mod seed;
mod tasks;
mod tenancy;
