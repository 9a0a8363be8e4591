//! Content negotiation: which rendering an answer gets, from the Accept header; the
//! endpoint's first offer when the client states no preference; 406 when it accepts none
//! of those the endpoint produces.
//!
//! Routes are wrapped in `negotiation(produces)`, once: it answers the 406 before the
//! handler runs, hands the handler the chosen `Rendering`, and renders the handler's
//! errors in it (JSON errors for a JSON answer, a line of text otherwise).

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError};

use super::error::{ApiError, ApiErrorKind};
use crate::occi::MediaType;

/// What an endpoint answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produces {
    /// One resource, or the query interface.
    Entity,
    /// A list of resources: text/uri-list too.
    Collection,
    /// A task tree: JSON, or the table `disco task-status` prints.
    TaskTree,
}

impl Produces {
    /// What the endpoint offers, the one given when the client has no preference first.
    fn offers(self) -> &'static [MediaType] {
        match self {
            Produces::Entity => &[MediaType::TextPlain, MediaType::TextOcci, MediaType::Json],
            Produces::Collection => &[
                MediaType::TextPlain,
                MediaType::TextOcci,
                MediaType::UriList,
                MediaType::Json,
            ],
            Produces::TaskTree => &[MediaType::Json, MediaType::TextPlain],
        }
    }
}

/// The rendering negotiated for this request's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendering(pub MediaType);

impl FromRequest for Rendering {
    type Error = ApiError;
    type Future = Ready<Result<Rendering, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Rendering>().copied().ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "{} is not wrapped in a negotiation",
                req.path()
            ))
        }))
    }
}

/// The wrapper of a route that produces `produces`: see the module's doc.
pub async fn negotiation(
    produces: Produces,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let media = match negotiate(req.request(), produces) {
        Ok(media) => media,
        Err(refused) => {
            let response = refused.error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    };
    req.extensions_mut().insert(Rendering(media));
    let response = next.call(req).await?;
    if media != MediaType::Json {
        return Ok(response.map_into_left_body());
    }
    let json = response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .map(|e| e.response(true));
    Ok(match json {
        Some(json) => response.into_response(json).map_into_right_body(),
        None => response.map_into_left_body(),
    })
}

fn negotiate(req: &HttpRequest, produces: Produces) -> Result<MediaType, ApiError> {
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
    let default = offers[0];
    if ranges.is_empty() {
        return Some(default);
    }
    // Highest quality first; among equals, the client's order.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().find_map(|(_, _, essence)| {
        let essence = essence.to_ascii_lowercase();
        let wanted = match essence.as_str() {
            "*/*" => Some(default),
            "text/*" => Some(MediaType::TextPlain),
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
