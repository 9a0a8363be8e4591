//! nom plumbing shared by the OCCI and inject parsers: the error type that
//! carries a message and the place in the input it is about, the result
//! type, committing failures, running a parser to the end, and turning the
//! place back into a position.
//!
//! Each parser words its messages differently (OCCI says what was expected
//! and its error adds "expected"; inject messages are whole sentences), so
//! the few failures nom reports without a message of ours are worded by the
//! parser, through `Wording`. Nothing here knows a grammar, and nothing
//! here depends on the rest of the crate.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use nom::IResult;
use nom::error::{ErrorKind, ParseError};

/// How one parser words the failures that carry no message of ours.
pub(crate) trait Wording {
    /// A bare nom combinator failed where the parser did not say what it
    /// wanted (every such combinator is meant to be guarded or wrapped).
    const UNLABELLED: &'static str;
    /// A streaming parser ran out of input. The parsers use only complete
    /// combinators, so this is never reported; it keeps [`finish`] total.
    const INCOMPLETE: &'static str;
}

/// A parse failure: where it happened and the message for that place.
/// `at` is always a sub-slice of the input being parsed, so its address
/// gives the position even when it was cut out of the middle of the input
/// (see [`offset_in`]).
pub(crate) struct PErr<'a, W> {
    pub(crate) at: &'a str,
    pub(crate) message: Cow<'static, str>,
    wording: PhantomData<fn() -> W>,
}

impl<'a, W> PErr<'a, W> {
    pub(crate) fn new(at: &'a str, message: impl Into<Cow<'static, str>>) -> Self {
        PErr {
            at,
            message: message.into(),
            wording: PhantomData,
        }
    }
}

// By hand, because a derive would require `W: Debug` of a marker type.
impl<W> fmt::Debug for PErr<'_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PErr")
            .field("at", &self.at)
            .field("message", &self.message)
            .finish()
    }
}

impl<'a, W: Wording> ParseError<&'a str> for PErr<'a, W> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PErr::new(input, W::UNLABELLED)
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type Res<'a, O, W> = IResult<&'a str, O, PErr<'a, W>>;

/// A committed failure at `at`: no alternative is tried after it.
pub(crate) fn fail<'a, O, W>(at: &'a str, message: impl Into<Cow<'static, str>>) -> Res<'a, O, W> {
    Err(nom::Err::Failure(PErr::new(at, message)))
}

/// Runs `parser` on `input` and returns what it parsed, or the failure with
/// its place in `input`. Whatever `parser` leaves unparsed is its own
/// business: the parsers check for the end themselves, with a message.
pub(crate) fn finish<'a, T, W: Wording>(
    input: &'a str,
    parser: impl FnOnce(&'a str) -> Res<'a, T, W>,
) -> Result<T, PErr<'a, W>> {
    match parser(input) {
        Ok((_, parsed)) => Ok(parsed),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(PErr::new(
            input.get(input.len()..).unwrap_or_default(),
            W::INCOMPLETE,
        )),
    }
}

/// Byte offset of `part` inside `base`, found from their addresses because
/// `part` may have been cut out of the middle of `base`. A `part` from
/// elsewhere counts as the end of `base`.
pub(crate) fn offset_in(base: &str, part: &str) -> usize {
    let start = base.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if at >= start && at - start <= base.len() && base.is_char_boundary(at - start) {
        at - start
    } else {
        base.len()
    }
}

/// The 1-based character column of byte `offset` in `base`; an offset that
/// is not a character boundary of `base` counts as its end.
pub(crate) fn column(base: &str, offset: usize) -> usize {
    base.get(..offset).unwrap_or(base).chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Plain {}

    impl Wording for Plain {
        const UNLABELLED: &'static str = "unlabelled";
        const INCOMPLETE: &'static str = "incomplete";
    }

    fn digits(input: &str) -> Res<'_, &str, Plain> {
        nom::character::complete::digit1(input)
    }

    #[test]
    fn offset_in_finds_a_slice_cut_from_the_middle() {
        let base = "héllo wörld";
        let part = base.get(7..).unwrap();
        assert_eq!(offset_in(base, part), 7);
        assert_eq!(offset_in(base, base.get(base.len()..).unwrap()), base.len());
        assert_eq!(offset_in(base, "elsewhere"), base.len());
    }

    #[test]
    fn column_counts_characters_not_bytes() {
        assert_eq!(column("héllo", 0), 1);
        assert_eq!(column("héllo", 3), 3);
        assert_eq!(column("héllo", 2), 6);
    }

    #[test]
    fn finish_words_a_bare_combinator_failure_with_the_parsers_wording() {
        let e = finish("x1", digits).unwrap_err();
        assert_eq!((e.at, e.message.as_ref()), ("x1", "unlabelled"));
        assert_eq!(finish("12x", digits).unwrap(), "12");
    }

    #[test]
    fn fail_commits_with_its_message() {
        let result: Res<'_, (), Plain> = fail("rest", "a digit");
        match result {
            Err(nom::Err::Failure(e)) => {
                assert_eq!((e.at, e.message.as_ref()), ("rest", "a digit"))
            }
            other => panic!("expected a committed failure, got {other:?}"),
        }
    }
}
