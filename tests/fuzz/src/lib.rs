//! Helpers shared by the fuzz targets: comparing parsed values, floats
//! included, and rendering a parsed request back into the text the parsers
//! read.
//!
//! `PartialEq` on `f64` says `0.0 == -0.0` and `NaN != NaN`. A round trip
//! should keep a float's exact bits, and NaN (which no parser should ever
//! produce) must not make two equal trees look different, so floats here
//! are the same when their bits are, or when both are NaN.

use std::fmt::Debug;

use disco::domain::Scalar;
use disco::frameworks::inject::{Inject, PyValue};
use disco::frameworks::request::ComponentRequest;
use disco::occi::render::{self, Line};
use disco::occi::text::{Attribute, Category, Link, TextRequest};

/// Structural equality with floats compared by their bits (NaN equal to NaN).
pub trait Same {
    fn same(&self, other: &Self) -> bool;
}

pub fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

impl Same for f64 {
    fn same(&self, other: &Self) -> bool {
        same_f64(*self, *other)
    }
}

impl Same for String {
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

impl Same for Category {
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

impl<T: Same> Same for Vec<T> {
    fn same(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a.same(b))
    }
}

impl<A: Same, B: Same> Same for (A, B) {
    fn same(&self, other: &Self) -> bool {
        self.0.same(&other.0) && self.1.same(&other.1)
    }
}

impl Same for Scalar {
    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Scalar::Float(a), Scalar::Float(b)) => same_f64(*a, *b),
            (Scalar::Float(_), _) | (_, Scalar::Float(_)) => false,
            (a, b) => a == b,
        }
    }
}

impl Same for Attribute {
    fn same(&self, other: &Self) -> bool {
        self.name == other.name && self.value.same(&other.value)
    }
}

impl Same for Link {
    fn same(&self, other: &Self) -> bool {
        self.target == other.target
            && self.rel == other.rel
            && self.self_location == other.self_location
            && self.category == other.category
            && self.attributes.same(&other.attributes)
    }
}

impl Same for TextRequest {
    fn same(&self, other: &Self) -> bool {
        self.categories.same(&other.categories)
            && self.attributes.same(&other.attributes)
            && self.links.same(&other.links)
            && self.locations.same(&other.locations)
    }
}

impl Same for PyValue {
    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (PyValue::Float(a), PyValue::Float(b)) => same_f64(*a, *b),
            (PyValue::List(a), PyValue::List(b))
            | (PyValue::Tuple(a), PyValue::Tuple(b))
            | (PyValue::Set(a), PyValue::Set(b)) => a.same(b),
            (PyValue::Dict(a), PyValue::Dict(b)) => a.same(b),
            (PyValue::Str(a), PyValue::Str(b)) => a == b,
            (PyValue::Int(a), PyValue::Int(b)) => a == b,
            (PyValue::Bool(a), PyValue::Bool(b)) => a == b,
            (PyValue::None, PyValue::None) => true,
            _ => false,
        }
    }
}

impl Same for ComponentRequest {
    fn same(&self, other: &Self) -> bool {
        self.name == other.name
            && self.params.len() == other.params.len()
            && self
                .params
                .iter()
                .zip(&other.params)
                .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
    }
}

impl Same for Inject {
    fn same(&self, other: &Self) -> bool {
        self.components.same(&other.components)
    }
}

/// Panics, naming what differed, unless `first` and `second` are the same.
#[track_caller]
pub fn assert_same<T: Same + Debug>(what: &str, rendered: &str, first: &T, second: &T) {
    assert!(
        first.same(second),
        "{what} did not round-trip through its rendering\n rendered: {rendered:?}\n    first: {first:?}\n   second: {second:?}"
    );
}

/// Joins rendered list elements the way a header value lists them.
pub fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text/plain lines of everything a request carried, through the
/// crate's own renderers (`Display` and `render::location_lines`).
pub fn request_lines(request: &TextRequest) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    lines.extend(
        request
            .categories
            .iter()
            .map(|c| (render::CATEGORY, c.to_string())),
    );
    lines.extend(
        request
            .attributes
            .iter()
            .map(|a| (render::ATTRIBUTE, a.to_string())),
    );
    lines.extend(request.links.iter().map(|l| (render::LINK, l.to_string())));
    lines.extend(render::location_lines(&request.locations));
    lines
}

/// A rendered value must be one line: a header value cannot hold a line
/// break, and text/plain puts one header on each line.
#[track_caller]
pub fn assert_one_line(what: &str, rendered: &str) {
    assert!(
        !rendered.contains(['\n', '\r']),
        "{what} rendered with a line break: {rendered:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_the_same_by_their_bits_and_nan_is_nan() {
        assert!(same_f64(f64::NAN, -f64::NAN));
        assert!(same_f64(1.5, 1.5));
        assert!(!same_f64(0.0, -0.0));
        assert!(!same_f64(0.1, 0.1 + f64::EPSILON));
        assert!(!Scalar::Float(1.0).same(&Scalar::Integer(1)));
        assert!(Scalar::Float(f64::NAN).same(&Scalar::Float(f64::NAN)));
    }

    #[test]
    fn py_values_differ_when_any_leaf_or_kind_differs() {
        use PyValue::*;
        let a = Dict(vec![(Str("k".into()), List(vec![Float(1.0), None]))]);
        assert!(a.same(&a.clone()));
        assert!(!a.same(&Dict(vec![(
            Str("k".into()),
            List(vec![Float(-1.0), None])
        )])));
        assert!(!a.same(&Dict(vec![(
            Str("k".into()),
            Tuple(vec![Float(1.0), None])
        )])));
        assert!(!a.same(&Dict(vec![])));
        assert!(!Set(vec![]).same(&List(vec![])));
    }

    #[test]
    fn assert_same_panics_on_a_difference() {
        let first = vec![Scalar::Float(0.0)];
        let second = vec![Scalar::Float(-0.0)];
        let caught = std::panic::catch_unwind(|| assert_same("x", "", &first, &second));
        assert!(caught.is_err());
    }
}
