//! Content negotiation: which rendering an answer gets, from the Accept header. text/plain
//! when the client states no preference; 406 when it accepts none of those we produce.

use actix_web::HttpRequest;
use actix_web::http::header;

use super::error::{ApiError, ApiErrorKind};
use crate::occi::MediaType;

/// What an endpoint answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produces {
    /// One resource, or the query interface.
    Entity,
    /// A list of resources: text/uri-list too.
    Collection,
}

impl Produces {
    fn offers(self) -> &'static [MediaType] {
        match self {
            Produces::Entity => &[MediaType::TextPlain, MediaType::TextOcci, MediaType::Json],
            Produces::Collection => &[
                MediaType::TextPlain,
                MediaType::TextOcci,
                MediaType::UriList,
                MediaType::Json,
            ],
        }
    }
}

pub fn negotiate(req: &HttpRequest, produces: Produces) -> Result<MediaType, ApiError> {
    let accept: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .collect();
    choose(&accept.join(","), produces).ok_or_else(|| {
        let offers: Vec<&str> = produces.offers().iter().map(|m| m.as_str()).collect();
        ApiErrorKind::NotAcceptable(format!(
            "Accept: this resource is available as {}",
            offers.join(", ")
        ))
        .into()
    })
}

/// The best media type for an Accept header value (possibly empty).
fn choose(accept: &str, produces: Produces) -> Option<MediaType> {
    let offers = produces.offers();
    let mut ranges: Vec<(f32, usize, &str)> = Vec::new();
    for (position, range) in accept.split(',').enumerate() {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or_default().trim();
        if essence.is_empty() {
            continue;
        }
        let quality = parts
            .filter_map(|param| param.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, q)| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality > 0.0 {
            ranges.push((quality, position, essence));
        }
    }
    if ranges.is_empty() {
        return Some(MediaType::TextPlain);
    }
    // Highest quality first; among equals, the client's order.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().find_map(|(_, _, essence)| {
        let essence = essence.to_ascii_lowercase();
        let wanted = match essence.as_str() {
            "*/*" | "text/*" => Some(MediaType::TextPlain),
            "application/*" => Some(MediaType::Json),
            other => MediaType::from_essence(other),
        };
        wanted.filter(|media| offers.contains(media))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_preference_gets_text_plain() {
        assert_eq!(choose("", Produces::Entity), Some(MediaType::TextPlain));
        assert_eq!(choose("*/*", Produces::Entity), Some(MediaType::TextPlain));
    }

    #[test]
    fn quality_values_order_the_choice() {
        assert_eq!(
            choose("text/plain;q=0.5, application/occi+json", Produces::Entity),
            Some(MediaType::Json)
        );
        assert_eq!(
            choose("text/occi;q=0, text/plain", Produces::Entity),
            Some(MediaType::TextPlain)
        );
    }

    #[test]
    fn uri_list_is_only_for_collections() {
        assert_eq!(choose("text/uri-list", Produces::Entity), None);
        assert_eq!(
            choose("text/uri-list", Produces::Collection),
            Some(MediaType::UriList)
        );
    }

    #[test]
    fn nothing_we_produce_is_none() {
        assert_eq!(choose("image/png, text/html", Produces::Collection), None);
    }
}
