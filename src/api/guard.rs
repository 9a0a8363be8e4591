//! What every request must be before a handler sees it, REST and dashboard alike:
//!
//! - addressed to a name this server answers to (`Host`, or what a trusted proxy says
//!   the client used), so that a page elsewhere cannot read clusters and their keys by
//!   pointing a name of its own here (DNS rebinding);
//! - for a state change, not sent by another origin's page (`Origin`,
//!   `Sec-Fetch-Site`): a `text/plain` POST needs no CORS preflight, so without this any
//!   page a user opens could create and delete their clusters. Clients that are not
//!   browsers send neither header and pass.
//!
//! `Forwarded` and `X-Forwarded-Host`/`-Proto` count only from `server.trusted_proxies`;
//! from anyone else they are ignored, and never echoed in `Location`. `/healthz` and
//! `/metrics` are answered whatever the Host, for probes and scrapers that name the
//! server by an address of their own.

use std::net::IpAddr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use url::Url;

use super::AppState;
use crate::config::{HostName, ServerSettings};

/// Why a request is refused before any handler runs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("Host: missing; name this server in it")]
    NoHost,
    #[error("{header}: {value:?} is not a host name with an optional port")]
    BadHost { header: &'static str, value: String },
    #[error(
        "{header}: {value:?} is not a name this server answers to; an operator can add it to server.allowed_hosts"
    )]
    ForeignHost { header: &'static str, value: String },
    #[error("{header}: {value:?} is neither http nor https")]
    BadScheme { header: &'static str, value: String },
    #[error(
        "Origin: {origin:?} is not this server's ({ours}); a page elsewhere cannot change anything here"
    )]
    ForeignOrigin { origin: String, ours: String },
    #[error("Sec-Fetch-Site: {0}: a page elsewhere cannot change anything here")]
    CrossSite(String),
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Refusal::NoHost | Refusal::BadHost { .. } | Refusal::BadScheme { .. } => {
                StatusCode::BAD_REQUEST
            }
            Refusal::ForeignHost { .. } => StatusCode::MISDIRECTED_REQUEST,
            Refusal::ForeignOrigin { .. } | Refusal::CrossSite(_) => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        one_line(self.status_code(), self)
    }
}

/// The API's error body: one line of text.
pub(super) fn one_line(status: StatusCode, reason: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{reason}\n"))
}

/// The scheme and authority the client used to reach us: what its page's origin is,
/// and the base of the absolute URLs we answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientOrigin {
    https: bool,
    host: HostName,
    port: Option<u16>,
}

impl ClientOrigin {
    /// `http://host[:port]`, built from the parsed parts, never from the raw header.
    pub(crate) fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match self.port {
            Some(port) => format!("{scheme}://{}:{port}", self.host),
            None => format!("{scheme}://{}", self.host),
        }
    }

    fn origin(&self) -> Option<url::Origin> {
        Url::parse(&self.base_url()).ok().map(|url| url.origin())
    }
}

/// The middleware: see the module's doc.
pub async fn guard(
    state: web::Data<AppState>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    match check(req.request(), &state.settings.server) {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(refusal) => {
            let (req, _) = req.into_parts();
            Ok(ServiceResponse::from_err(refusal, req).map_into_right_body())
        }
    }
}

fn check(req: &HttpRequest, server: &ServerSettings) -> Result<(), Refusal> {
    // What a load balancer or a scraper asks, by whatever name it knows the host.
    if matches!(req.path(), "/healthz" | "/metrics") {
        return Ok(());
    }
    let client = client_origin(req, server)?;
    if changes_state(req.method()) {
        check_origin(req.headers(), &client, server)?;
    }
    Ok(())
}

fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// A browser names the page that sent a request; only our own pages may change state.
fn check_origin(
    headers: &HeaderMap,
    client: &ClientOrigin,
    server: &ServerSettings,
) -> Result<(), Refusal> {
    if let Some(site) = text(headers, "sec-fetch-site")
        && matches!(site.as_str(), "cross-site" | "same-site")
    {
        return Err(Refusal::CrossSite(site));
    }
    let Some(origin) = text(headers, header::ORIGIN.as_str()) else {
        return Ok(());
    };
    // "null" (a sandboxed or file: page) parses as no URL, and is nobody's origin.
    let given = Url::parse(&origin).ok().map(|url| url.origin());
    let public = server.public_url.as_ref().map(Url::origin);
    let ours = client.origin();
    let is_ours = given
        .as_ref()
        .is_some_and(|given| Some(given) == ours.as_ref() || Some(given) == public.as_ref());
    if is_ours {
        Ok(())
    } else {
        Err(Refusal::ForeignOrigin {
            origin,
            ours: client.base_url(),
        })
    }
}

/// The origin the client used, refused unless its host is one we answer to. A trusted
/// proxy's `Forwarded` (then `X-Forwarded-*`) says it; otherwise `Host` (or the request
/// target's authority, as HTTP/2 gives it).
pub(crate) fn client_origin(
    req: &HttpRequest,
    server: &ServerSettings,
) -> Result<ClientOrigin, Refusal> {
    let headers = req.headers();
    let trusted = req
        .peer_addr()
        .is_some_and(|peer| server.trusted_proxies.contains(&peer.ip().to_canonical()));
    let forwarded = if trusted {
        forwarded(headers)
    } else {
        Forwarded::default()
    };
    let x_forwarded = |name: &str| trusted.then(|| last_value(headers, name)).flatten();
    let (host_header, authority) = match (forwarded.host, x_forwarded("x-forwarded-host")) {
        (Some(host), _) => ("Forwarded", host),
        (None, Some(host)) => ("X-Forwarded-Host", host),
        (None, None) => match text(headers, header::HOST.as_str()) {
            Some(host) => ("Host", host),
            None => match req.uri().authority() {
                Some(authority) => ("Host", authority.to_string()),
                None => return Err(Refusal::NoHost),
            },
        },
    };
    let https = match (forwarded.proto, x_forwarded("x-forwarded-proto")) {
        (Some(proto), _) => scheme("Forwarded", proto)?,
        (None, Some(proto)) => scheme("X-Forwarded-Proto", proto)?,
        (None, None) => false,
    };
    let (host, port) = parse_authority(&authority).ok_or_else(|| Refusal::BadHost {
        header: host_header,
        value: authority.clone(),
    })?;
    if !answers_to(server, &host) {
        return Err(Refusal::ForeignHost {
            header: host_header,
            value: authority,
        });
    }
    Ok(ClientOrigin { https, host, port })
}

fn scheme(header: &'static str, value: String) -> Result<bool, Refusal> {
    match value.to_ascii_lowercase().as_str() {
        "http" => Ok(false),
        "https" => Ok(true),
        _ => Err(Refusal::BadScheme { header, value }),
    }
}

/// The names served: loopback and `localhost`, the listen address (unless it is a
/// wildcard, which says nothing of the names clients use), `public_url`'s host, and
/// `allowed_hosts`.
fn answers_to(server: &ServerSettings, host: &HostName) -> bool {
    let listen = server.listen.ip();
    match host {
        HostName::Name(name) if name == "localhost" => return true,
        HostName::Ip(ip) if ip.is_loopback() || (*ip == listen && !listen.is_unspecified()) => {
            return true;
        }
        _ => {}
    }
    server
        .public_url
        .as_ref()
        .and_then(HostName::of_url)
        .is_some_and(|public| public == *host)
        || server.allowed_hosts.contains(host)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; an empty port is none.
fn parse_authority(text: &str) -> Option<(HostName, Option<u16>)> {
    let (host, port) = if text.starts_with('[') {
        let end = text.find(']')?;
        let (host, rest) = text.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => Some(port.parse().ok()?),
        Some(_) => return None,
    };
    Some((HostName::parse(host).ok()?, port))
}

/// What the last element of `Forwarded` (RFC 7239) says: the one the proxy that
/// connected to us added. Earlier ones came from further away, or from the client.
#[derive(Debug, Default, PartialEq, Eq)]
struct Forwarded {
    host: Option<String>,
    proto: Option<String>,
}

fn forwarded(headers: &HeaderMap) -> Forwarded {
    let joined = all_values(headers, "forwarded");
    let mut found = Forwarded::default();
    let Some(last) = split_unquoted(&joined, ',').pop() else {
        return found;
    };
    for pair in split_unquoted(last, ';') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim().to_ascii_lowercase().as_str() {
            "host" => found.host = Some(value),
            "proto" => found.proto = Some(value),
            _ => {}
        }
    }
    found
}

/// `text` split at `separator` where it is not inside a quoted string.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(text[start..at].trim());
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|part| !part.is_empty());
    parts
}

fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

/// Every value of a header, comma-joined, as text (values that are not are skipped).
fn all_values(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
}

/// The last of a comma-separated header's values: the one the nearest proxy added.
fn last_value(headers: &HeaderMap, name: &str) -> Option<String> {
    all_values(headers, name)
        .rsplit(',')
        .map(str::trim)
        .find(|value| !value.is_empty())
        .map(str::to_string)
}

/// A header's value as trimmed text (bytes that are not UTF-8 replaced, so that such a
/// value parses as nothing valid), or `None` when it is absent or empty.
fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    let text = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The loopback address when nothing else names us (a request the guard would refuse).
pub(crate) fn fallback_base(server: &ServerSettings) -> String {
    let ip = match server.listen.ip() {
        ip if ip.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    format!(
        "http://{}",
        std::net::SocketAddr::new(ip, server.listen.port())
    )
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn server(adjust: impl FnOnce(&mut ServerSettings)) -> ServerSettings {
        let mut server = ServerSettings {
            listen: "127.0.0.1:8888".parse().expect("address"),
            public_url: None,
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            body_limit: 1,
            request_timeout_secs: 1,
            shutdown_timeout_secs: 1,
            max_event_streams: 1,
            max_event_streams_per_tenant: 1,
        };
        adjust(&mut server);
        server
    }

    #[test]
    fn authorities_are_a_host_and_maybe_a_port() {
        let name = |n: &str| HostName::Name(n.into());
        assert_eq!(
            parse_authority("Disco.Example:8888"),
            Some((name("disco.example"), Some(8888)))
        );
        assert_eq!(
            parse_authority("[::1]:80"),
            Some((HostName::Ip("::1".parse().expect("ip")), Some(80)))
        );
        assert_eq!(
            parse_authority("localhost:"),
            Some((name("localhost"), None))
        );
        for bad in ["", "a:b", "a:99999", "[::1]x", "a b", "user@host", "a:+1"] {
            assert_eq!(parse_authority(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn of_forwarded_the_last_element_counts_and_quotes_are_taken_off() {
        let request = TestRequest::default()
            .insert_header(("Forwarded", "host=a.example;proto=http"))
            .append_header((
                "Forwarded",
                "for=\"[2001:db8::1]:4711\";Host=\"b.example:8443\";proto=https",
            ))
            .to_http_request();
        assert_eq!(
            forwarded(request.headers()),
            Forwarded {
                host: Some("b.example:8443".into()),
                proto: Some("https".into())
            }
        );
        assert_eq!(split_unquoted("a=\"x,y\", b", ','), ["a=\"x,y\"", "b"]);
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
    }

    #[test]
    fn a_wildcard_listen_address_answers_to_no_name_of_its_own() {
        let wildcard = server(|s| s.listen = "0.0.0.0:8888".parse().expect("address"));
        let ip = |text: &str| HostName::Ip(text.parse().expect("ip"));
        assert!(answers_to(&wildcard, &ip("127.0.0.1")));
        assert!(answers_to(&wildcard, &HostName::Name("localhost".into())));
        assert!(!answers_to(&wildcard, &ip("0.0.0.0")));
        assert!(!answers_to(&wildcard, &ip("192.0.2.7")));
        let listed = server(|s| {
            s.listen = "192.0.2.7:8888".parse().expect("address");
            s.public_url = Some("https://Disco.Example/".parse().expect("url"));
        });
        assert!(answers_to(&listed, &ip("192.0.2.7")));
        assert!(answers_to(&listed, &HostName::Name("disco.example".into())));
    }

    #[test]
    fn the_origin_compares_scheme_host_and_port_with_default_ports_filled_in() {
        let server = server(|_| {});
        let client = ClientOrigin {
            https: false,
            host: HostName::Name("localhost".into()),
            port: Some(80),
        };
        let with_origin = |origin: &str| {
            let request = TestRequest::default()
                .insert_header(("Origin", origin))
                .to_http_request();
            check_origin(request.headers(), &client, &server)
        };
        assert!(with_origin("http://localhost").is_ok());
        assert!(with_origin("http://LOCALHOST:80").is_ok());
        assert!(with_origin("http://localhost:8080").is_err());
        assert!(with_origin("null").is_err());
    }
}
