//! What the gateway tells operators about traffic: Prometheus metrics and
//! the access log, both completed when a response's last byte is gone.

pub mod access;
pub mod metrics;
pub mod trace;
