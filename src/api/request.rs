//! Reading a request: its OCCI content (from headers for text/occi, from the body for
//! text/plain and application/occi+json) and its credentials. The body is read up to the
//! configured limit and no further.

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use secrecy::SecretString;

use super::error::{ApiError, ApiErrorKind};
use crate::auth::{Credentials, MalformedHeader};
use crate::occi::MediaType;
use crate::occi::json;
use crate::occi::text::{self, TextRequest};

/// The OCCI content of a request, whatever rendering it came in.
pub async fn read_occi(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<TextRequest, ApiError> {
    let media = content_type(req)?;
    let body = read_body(req, payload, limit).await?;
    let mut request = from_headers(req.headers())?;
    match media {
        None | Some(MediaType::TextOcci) => {}
        Some(MediaType::TextPlain) => {
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError::bad_request("text/plain body: not valid UTF-8"))?;
            let from_body = text::parse_plain_body(text)
                .map_err(|e| ApiError::bad_request(format!("text/plain body: {e}")))?;
            request.categories.extend(from_body.categories);
            request.attributes.extend(from_body.attributes);
            request.links.extend(from_body.links);
            request.locations.extend(from_body.locations);
        }
        Some(MediaType::Json) => {
            request =
                json::parse_resource(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
        Some(MediaType::UriList) => return Err(unsupported("text/uri-list")),
    }
    Ok(request)
}

fn content_type(req: &HttpRequest) -> Result<Option<MediaType>, ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| unsupported("a Content-Type that is not text"))?;
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() {
        return Ok(None);
    }
    MediaType::from_essence(&essence)
        .map(Some)
        .ok_or_else(|| unsupported(&essence))
}

fn unsupported(got: &str) -> ApiError {
    ApiErrorKind::UnsupportedMediaType(format!(
        "Content-Type: expected text/occi, text/plain or application/occi+json, got {got}"
    ))
    .into()
}

pub(super) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiErrorKind::PayloadTooLarge(limit).into());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiErrorKind::PayloadTooLarge(limit).into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The OCCI headers, parsed; several headers of a name and comma-joined values both work.
fn from_headers(headers: &HeaderMap) -> Result<TextRequest, ApiError> {
    let mut request = TextRequest::default();
    for value in header_values(headers, "category")? {
        request
            .categories
            .extend(text::parse_categories(value).map_err(bad_header)?);
    }
    for value in header_values(headers, "x-occi-attribute")? {
        request
            .attributes
            .extend(text::parse_attributes(value).map_err(bad_header)?);
    }
    for value in header_values(headers, "link")? {
        request
            .links
            .extend(text::parse_links(value).map_err(bad_header)?);
    }
    for value in header_values(headers, "x-occi-location")? {
        request
            .locations
            .extend(text::parse_locations(value).map_err(bad_header)?);
    }
    Ok(request)
}

fn bad_header(error: text::TextError) -> ApiError {
    ApiError::bad_request(error.to_string())
}

/// Header values as text; UTF-8 is allowed (attribute values may be any text).
fn header_values<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Vec<&'a str>, ApiError> {
    headers
        .get_all(name)
        .map(|value| {
            std::str::from_utf8(value.as_bytes())
                .map_err(|_| ApiError::bad_request(format!("{name}: not valid UTF-8")))
        })
        .collect()
}

/// The original's credential headers. Each is one header of UTF-8 text; HTTP's own
/// spaces and tabs around it are not part of it, and an empty one is absent. A header
/// sent twice, or not as UTF-8, is kept as the problem that the authenticator refuses.
pub fn credentials(req: &HttpRequest) -> Credentials {
    let mut malformed = None;
    let mut text = |name: &'static str| match credential_header(req.headers(), name) {
        Ok(value) => value,
        Err(problem) => {
            malformed.get_or_insert(problem);
            None
        }
    };
    let token = text("X-Auth-Token").map(SecretString::from);
    let user = text("X-User-Name");
    let password = text("X-Password").map(SecretString::from);
    let tenant = text("X-Tenant-Name");
    let region = text("X-Region-Name");
    Credentials {
        token,
        user,
        password,
        tenant,
        region,
        malformed,
    }
}

fn credential_header(
    headers: &HeaderMap,
    name: &'static str,
) -> Result<Option<String>, MalformedHeader> {
    let mut values = headers.get_all(name);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(MalformedHeader {
            header: name,
            expected: "one header, not several",
        });
    }
    let text = std::str::from_utf8(value.as_bytes()).map_err(|_| MalformedHeader {
        header: name,
        expected: "UTF-8 text",
    })?;
    let text = text.trim_matches([' ', '\t']);
    Ok((!text.is_empty()).then(|| text.to_string()))
}
