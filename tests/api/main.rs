//! Integration tests: the real server on a random port, driven over HTTP.

mod bad_input;
mod browser;
mod catalogue;
mod cli;
mod create;
mod dashboard;
mod delete;
mod heat;
mod helpers;
mod lifecycle;
mod local;
mod openstack;
mod plans;
mod query_interface;
mod renderings;
mod restart;
mod secrets;
mod seed;
mod tasks;
mod teardown;
mod tenancy;
