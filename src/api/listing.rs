//! `GET /disco/` at any size: the page a query asks for (`?limit=N&marker=UUID`, OpenStack
//! style: the clusters after the marker in creation order), and the body streamed page by
//! page from the store, so that the server holds one page of clusters at a time however
//! many the tenant has. Without `limit` the listing runs to the end, streamed the same way.
//!
//! text/occi puts the locations in one header, which cannot be streamed: its answer is
//! built whole, from the clusters' ids only (a location each, never the clusters), and a
//! `limit` bounds it like the others.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use super::error::ApiError;
use super::present::{self, PrivateKey};
use crate::domain::{ClusterId, TenantId};
use crate::manifest::Manifest;
use crate::occi::{MediaType, json, render};
use crate::store::{Store, StoreError};

/// How many clusters the store reads at a time while a listing streams them whole (JSON).
const CHUNK: usize = 100;

/// How many ids the store reads at a time for the renderings that show locations only.
const ID_CHUNK: usize = 200;

/// How many clusters a chunk of `media` reads.
fn chunk(media: MediaType) -> usize {
    if media == MediaType::Json {
        CHUNK
    } else {
        ID_CHUNK
    }
}

/// The largest page a `limit` may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// The query of a listing, as it came.
#[derive(Deserialize)]
pub(crate) struct ListQuery {
    limit: Option<String>,
    marker: Option<String>,
}

/// The page a listing asks for: how many clusters at most (all without a limit), after
/// which one (from the start without a marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    limit: Option<usize>,
    marker: Option<ClusterId>,
}

impl Page {
    /// The page `limit` and `marker` ask for; a 400 naming the parameter that is not a
    /// whole number from 1 to `MAX_LIMIT`, or not a cluster's UUID.
    pub fn parse(limit: Option<&str>, marker: Option<&str>) -> Result<Page, ApiError> {
        let limit = limit
            .map(|text| {
                text.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "limit: {text:?} is not a page size; expected a whole number \
                             from 1 to {MAX_LIMIT}"
                        ))
                    })
            })
            .transpose()?;
        let marker = marker
            .map(|text| {
                text.trim().parse::<ClusterId>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "marker: {text:?} is not a cluster's UUID; expected the id of the \
                         last cluster of the page before"
                    ))
                })
            })
            .transpose()?;
        Ok(Page { limit, marker })
    }

    /// The page of `query`: see `parse`.
    pub(crate) fn of(query: &ListQuery) -> Result<Page, ApiError> {
        Page::parse(query.limit.as_deref(), query.marker.as_deref())
    }

    /// This page, of `limit` clusters when it names no limit.
    pub fn or_limit(self, limit: usize) -> Page {
        Page {
            limit: self.limit.or(Some(limit)),
            ..self
        }
    }

    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    pub fn marker(&self) -> Option<ClusterId> {
        self.marker
    }

    /// Checks that the marker is one of the tenant's clusters (deleted ones too: it
    /// may have gone since its page was shown): another tenant's is refused as one that
    /// does not exist, saying nothing of whether it does.
    pub async fn check_marker(&self, store: &Store, tenant: &TenantId) -> Result<(), ApiError> {
        match self.marker {
            Some(id) if !store.is_tenants(tenant, id).await? => {
                Err(ApiError::bad_request(format!(
                    "marker: {id} is not one of your clusters; expected the id of the last \
                     cluster of the page before"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The marker of the page after this one, when clusters remain after it.
    pub async fn next_marker(
        &self,
        store: &Store,
        tenant: &TenantId,
    ) -> Result<Option<ClusterId>, StoreError> {
        match self.limit {
            Some(limit) => store.page_end(tenant, self.marker, limit).await,
            None => Ok(None),
        }
    }
}

/// What a listing shows, and to whom: the parts of the answer every page needs.
#[derive(Clone)]
pub(super) struct Listing {
    pub store: Store,
    pub tenant: TenantId,
    pub manifest: Arc<Manifest>,
    /// The scheme and host of the locations.
    pub base: String,
}

impl Listing {
    /// The answer to `GET /disco/` for `page` in `media`, with a `Link: <…>; rel="next"`
    /// header when clusters remain after the page.
    pub async fn respond(self, media: MediaType, page: Page) -> Result<HttpResponse, ApiError> {
        page.check_marker(&self.store, &self.tenant).await?;
        let next = page
            .next_marker(&self.store, &self.tenant)
            .await?
            .zip(page.limit)
            .map(|(marker, limit)| {
                format!(
                    "{}{}?limit={limit}&marker={marker}",
                    self.base, self.manifest.kind.location
                )
            });
        let mut response = match media {
            MediaType::TextOcci => {
                let locations = self.all_locations(page).await?;
                present::occi_locations(&locations)?
            }
            _ => {
                let content_type = match media {
                    MediaType::Json => "application/occi+json",
                    MediaType::UriList => "text/uri-list",
                    _ => "text/plain; charset=utf-8",
                };
                // The first chunk is read before the head is sent: a store that fails
                // from the start (the database unavailable: 503) answers with its error,
                // not with a 200 whose body is cut short.
                let mut body = Box::pin(self.stream(media, page, next.clone()));
                let first = body.next().await.transpose()?;
                HttpResponse::Ok()
                    .content_type(content_type)
                    .streaming(stream::iter(first.map(Ok)).chain(body))
            }
        };
        if let Some(next) = &next {
            let link = HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
                .map_err(|e| ApiError::internal(anyhow::anyhow!("a Link header: {e}")))?;
            response.headers_mut().append(header::LINK, link);
        }
        Ok(response)
    }

    fn location(&self, id: ClusterId) -> String {
        present::cluster_location(&self.manifest, &self.base, id)
    }

    /// Every location of the page, read from the store a chunk at a time (ids only).
    async fn all_locations(&self, page: Page) -> Result<Vec<String>, StoreError> {
        let mut locations = Vec::new();
        let mut after = page.marker;
        loop {
            let want = page
                .limit
                .map_or(ID_CHUNK, |limit| ID_CHUNK.min(limit - locations.len()));
            if want == 0 {
                break;
            }
            let ids = self
                .store
                .cluster_ids_after(&self.tenant, after, want)
                .await?;
            after = ids.last().copied().or(after);
            locations.extend(ids.iter().map(|id| self.location(*id)));
            if ids.len() < want {
                break;
            }
        }
        Ok(locations)
    }

    /// The body in `media` (not text/occi), one chunk of the store at a time.
    fn stream(
        self,
        media: MediaType,
        page: Page,
        next: Option<String>,
    ) -> impl Stream<Item = Result<Bytes, StoreError>> + 'static {
        let cursor = Cursor {
            after: page.marker,
            left: page.limit,
            shown: 0,
            started: false,
            done: false,
        };
        stream::try_unfold((self, cursor), move |(listing, mut cursor)| {
            let next = next.clone();
            async move {
                if cursor.done {
                    return Ok(None);
                }
                let mut out = String::new();
                if !cursor.started {
                    cursor.started = true;
                    if media == MediaType::Json {
                        out.push_str("{\"resources\":[");
                    }
                }
                let want = cursor
                    .left
                    .map_or(chunk(media), |left| left.min(chunk(media)));
                let got = if want == 0 {
                    0
                } else {
                    listing
                        .render_chunk(media, &mut cursor, want, &mut out)
                        .await?
                };
                if got < want || cursor.left == Some(0) {
                    cursor.done = true;
                    if media == MediaType::Json {
                        out.push(']');
                        if let Some(next) = &next {
                            let links = serde_json::json!([{ "rel": "next", "href": next }]);
                            out.push_str(&format!(",\"links\":{links}"));
                        }
                        out.push('}');
                    }
                }
                Ok(Some((Bytes::from(out), (listing, cursor))))
            }
        })
    }

    /// Renders the next `want` clusters after the cursor into `out`; how many there were.
    async fn render_chunk(
        &self,
        media: MediaType,
        cursor: &mut Cursor,
        want: usize,
        out: &mut String,
    ) -> Result<usize, StoreError> {
        let got = if media == MediaType::Json {
            let clusters = self
                .store
                .clusters_after(&self.tenant, cursor.after, want)
                .await?;
            for cluster in &clusters {
                if cursor.shown > 0 {
                    out.push(',');
                }
                cursor.shown += 1;
                let resource = present::cluster_resource(
                    cluster,
                    &self.manifest,
                    &self.base,
                    PrivateKey::Hidden,
                );
                out.push_str(&json::resource(&resource).to_string());
            }
            cursor.after = clusters.last().map(|c| c.id).or(cursor.after);
            clusters.len()
        } else {
            let ids = self
                .store
                .cluster_ids_after(&self.tenant, cursor.after, want)
                .await?;
            let locations: Vec<String> = ids.iter().map(|id| self.location(*id)).collect();
            if media == MediaType::UriList {
                out.push_str(&render::uri_list(&locations));
            } else {
                out.push_str(&render::plain_body(&render::location_lines(&locations)));
            }
            cursor.shown += ids.len();
            cursor.after = ids.last().copied().or(cursor.after);
            ids.len()
        };
        if let Some(left) = &mut cursor.left {
            *left -= got;
        }
        Ok(got)
    }
}

/// Where a streaming listing is.
struct Cursor {
    /// The last cluster shown (the marker before the first).
    after: Option<ClusterId>,
    /// How many the page may still show; `None`: all that remain.
    left: Option<usize>,
    shown: usize,
    started: bool,
    done: bool,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::ResponseError;
    use actix_web::http::StatusCode;

    use super::{Listing, Page};
    use crate::domain::TenantId;
    use crate::manifest::Manifest;
    use crate::occi::MediaType;

    /// Every rendering, streamed or not: the store failing at the first chunk is the
    /// answer's status, not a 200 whose body stops.
    #[tokio::test]
    async fn a_listing_on_an_unreachable_database_is_a_503_not_a_200_cut_short() {
        let listing = Listing {
            store: crate::store::testing::unreachable_store(),
            tenant: TenantId::parse("t").expect("tenant"),
            manifest: Arc::new(Manifest::built_in().expect("manifest")),
            base: "http://disco.example".into(),
        };
        let page = Page::parse(None, None).expect("page");
        for media in [
            MediaType::Json,
            MediaType::TextPlain,
            MediaType::UriList,
            MediaType::TextOcci,
        ] {
            let error = listing
                .clone()
                .respond(media, page)
                .await
                .expect_err("the database is not there");
            assert_eq!(
                error.status_code(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{media:?}"
            );
        }
    }

    #[test]
    fn a_limit_must_be_a_whole_number_in_range() {
        for bad in ["0", "-1", "ten", "10001", ""] {
            let refused = Page::parse(Some(bad), None).expect_err(bad);
            assert!(refused.to_string().contains("limit:"), "{refused}");
        }
        assert_eq!(Page::parse(Some("25"), None).expect("25").limit(), Some(25));
    }

    #[test]
    fn a_marker_must_be_a_uuid() {
        let refused = Page::parse(None, Some("not-a-uuid")).expect_err("refused");
        assert!(refused.to_string().contains("marker:"), "{refused}");
        let page = Page::parse(None, None).expect("no page");
        assert_eq!((page.limit(), page.marker()), (None, None));
    }
}
