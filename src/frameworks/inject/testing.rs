//! What the inject tests share.

use std::fmt;

use super::{Inject, InjectError};

pub(crate) fn err_of<T: fmt::Debug>(result: Result<T, InjectError>) -> InjectError {
    match result {
        Ok(v) => panic!("expected an error, parsed {v:?}"),
        Err(e) => e,
    }
}

pub(crate) fn names(inject: &Inject) -> Vec<&str> {
    inject.components.iter().map(|c| c.name.as_str()).collect()
}
