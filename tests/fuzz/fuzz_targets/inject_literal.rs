//! The inject attribute's Python literal: `parse_literal` and `parse_inject`.
//!
//! Asserts: no panic (error messages are rendered too, as the API shows
//! them); a literal that parses renders (`PyValue`'s `Display`) as a literal
//! that parses back to the same value; an inject value that parses renders
//! (`Inject`'s `Display`) as one that parses back to the same components;
//! and the literal's rendering means the same inject request as the input.
//! Floats are compared by their bits.
#![no_main]

use disco::frameworks::inject::{parse_inject, parse_literal};
use disco_fuzz::assert_same;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };

    match parse_literal(input) {
        Ok(literal) => {
            let rendered = literal.to_string();
            let again = parse_literal(&rendered).unwrap_or_else(|e| {
                panic!("literal rendering {rendered:?} of {input:?} is refused: {e}")
            });
            assert_same("Python literal", &rendered, &literal, &again);

            // Same meaning: the rendering is the same inject request, or
            // refused as one just as the input is.
            match (parse_inject(input), parse_inject(&rendered)) {
                (Ok(a), Ok(b)) => assert_same("inject via its literal", &rendered, &a, &b),
                (Err(_), Err(_)) => {}
                (a, b) => panic!(
                    "input {input:?} and its literal rendering {rendered:?} disagree as inject values: {a:?} vs {b:?}"
                ),
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }

    match parse_inject(input) {
        Ok(inject) => {
            let rendered = inject.to_string();
            let again = parse_inject(&rendered).unwrap_or_else(|e| {
                panic!("inject rendering {rendered:?} of {input:?} is refused: {e}")
            });
            assert_same("inject", &rendered, &inject, &again);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
