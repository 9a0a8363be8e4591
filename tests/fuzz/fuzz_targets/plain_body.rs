//! The text/plain request body parser.
//!
//! Asserts: no panic; a body that parses renders (each category, attribute
//! and link through its `Display`, locations through
//! `render::location_lines`, the lines through `render::plain_body`, exactly
//! as the service answers text/plain) into a body that parses back to the
//! same request, floats compared by their bits.
#![no_main]

use disco::occi::render;
use disco::occi::text::parse_plain_body;
use disco_fuzz::{assert_one_line, assert_same, request_lines};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = parse_plain_body(body) else {
        return;
    };
    let lines = request_lines(&request);
    for (name, value) in &lines {
        assert_one_line(name, value);
    }
    let rendered = render::plain_body(&lines);
    let again = parse_plain_body(&rendered)
        .unwrap_or_else(|e| panic!("rendered body {rendered:?} of {body:?} is refused: {e}"));
    assert_same("text/plain body", &rendered, &request, &again);
});
