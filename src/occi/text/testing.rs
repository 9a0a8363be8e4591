//! What the text rendering's tests share: the headers the original DISCO
//! clients send, and small constructors.

use std::fmt;

use super::{Attribute, AttributeValue, TextError};

pub(crate) const REAL_CATEGORY: &str =
    "disco; scheme=\"http://schemas.cloudcomplab.ch/occi/sm#\"; class=\"kind\";";

pub(crate) fn string(name: &str, value: &str) -> Attribute {
    Attribute {
        name: name.to_owned(),
        value: AttributeValue::String(value.to_owned()),
    }
}

pub(crate) fn err_of<T: fmt::Debug>(result: Result<T, TextError>) -> TextError {
    match result {
        Ok(v) => panic!("expected an error, parsed {v:?}"),
        Err(e) => e,
    }
}
