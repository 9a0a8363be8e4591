//! DISCO: distributed-computing clusters on demand, behind an OCCI REST interface.

pub mod api;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod compose;
pub mod config;
pub mod domain;
pub mod frameworks;
pub mod lifecycle;
pub mod manifest;
pub mod metrics;
pub mod occi;
pub mod openstack;
pub mod parsing;
pub mod providers;
pub mod startup;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod templates;
