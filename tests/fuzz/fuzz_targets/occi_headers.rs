//! The four OCCI header value parsers. The input is split at NUL bytes into
//! up to four header values, in this order: `Category`, `X-OCCI-Attribute`,
//! `Link`, `X-OCCI-Location` (a NUL cannot appear in an HTTP header value,
//! so nothing a client can send is lost by using it as the separator).
//!
//! Asserts, for each value: no parser panics; a value that parses renders
//! (through the crate's `Display` impls, and `render::location_lines` for
//! locations) as one line that parses back to the same list, floats compared
//! by their bits.
#![no_main]

use disco::occi::render;
use disco::occi::text::{parse_attributes, parse_categories, parse_links, parse_locations};
use disco_fuzz::{assert_one_line, assert_same, join};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let mut values = input.splitn(4, '\0');

    if let Some(value) = values.next()
        && let Ok(categories) = parse_categories(value)
    {
        let rendered = join(&categories);
        assert_one_line("Category", &rendered);
        let again = parse_categories(&rendered).unwrap_or_else(|e| {
            panic!("Category rendering {rendered:?} of {value:?} is refused: {e}")
        });
        assert_same("Category", &rendered, &categories, &again);
    }

    if let Some(value) = values.next()
        && let Ok(attributes) = parse_attributes(value)
    {
        let rendered = join(&attributes);
        assert_one_line("X-OCCI-Attribute", &rendered);
        let again = parse_attributes(&rendered).unwrap_or_else(|e| {
            panic!("X-OCCI-Attribute rendering {rendered:?} of {value:?} is refused: {e}")
        });
        assert_same("X-OCCI-Attribute", &rendered, &attributes, &again);
    }

    if let Some(value) = values.next()
        && let Ok(links) = parse_links(value)
    {
        let rendered = join(&links);
        assert_one_line("Link", &rendered);
        let again = parse_links(&rendered)
            .unwrap_or_else(|e| panic!("Link rendering {rendered:?} of {value:?} is refused: {e}"));
        assert_same("Link", &rendered, &links, &again);
    }

    if let Some(value) = values.next()
        && let Ok(locations) = parse_locations(value)
    {
        let lines = render::location_lines(&locations);
        let rendered = lines
            .iter()
            .map(|(_, location)| location.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        assert_one_line("X-OCCI-Location", &rendered);
        let again = parse_locations(&rendered).unwrap_or_else(|e| {
            panic!("X-OCCI-Location rendering {rendered:?} of {value:?} is refused: {e}")
        });
        assert_same("X-OCCI-Location", &rendered, &locations, &again);
    }
});
