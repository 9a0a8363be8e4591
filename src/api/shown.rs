//! What `GET /disco/UUID` answered, kept while the store has not been written since: a
//! cluster polled again is answered from it, without a trip to the store or a
//! rendering. Only where this process is its store's one server (SQLite, held by
//! `Store::hold_sole_server`): every write then goes through it and moves
//! `Store::writes`, which every answer kept is checked against. PostgreSQL's replicas
//! write beside each other, so they keep nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use bytes::Bytes;

use crate::domain::{ClusterId, TenantId};
use crate::occi::MediaType;

/// Answers kept at most (one per cluster, rendering and address asked at); past it, all
/// are dropped and kept anew.
const KEPT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Asked {
    pub cluster: ClusterId,
    pub media: MediaType,
    /// The base of the absolute URLs in the answer.
    pub base: String,
}

struct Answer {
    /// `Store::writes` when the cluster was read for it.
    writes: u64,
    /// Whose cluster it is: anyone else is answered as without it (404).
    tenant: TenantId,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
pub struct Shown {
    answers: Mutex<HashMap<Asked, Answer>>,
}

impl Shown {
    /// The answer kept for `asked`, if it is the tenant's and nothing was written since.
    pub fn answer(&self, asked: &Asked, tenant: &TenantId, writes: u64) -> Option<HttpResponse> {
        let answers = self.answers.lock().ok()?;
        let answer = answers.get(asked)?;
        (answer.writes == writes && answer.tenant == *tenant).then(|| answer.response())
    }

    /// Keeps `response` (its body whole) as the answer to `asked` for the tenant, read at
    /// `writes`, and gives it back.
    pub async fn keep(
        &self,
        asked: Asked,
        tenant: TenantId,
        writes: u64,
        response: HttpResponse,
    ) -> HttpResponse {
        let status = response.status();
        let headers = response.headers().clone();
        let Ok(body) = actix_web::body::to_bytes(response.into_body()).await else {
            return HttpResponse::InternalServerError().finish();
        };
        let answer = Answer {
            writes,
            tenant,
            status,
            headers,
            body,
        };
        let response = answer.response();
        if let Ok(mut answers) = self.answers.lock() {
            // What an earlier write made out of date goes first.
            answers.retain(|_, kept| kept.writes >= writes);
            if answers.len() >= KEPT {
                answers.clear();
            }
            answers.insert(asked, answer);
        }
        response
    }
}

impl Answer {
    fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status).body(self.body.clone());
        for (name, value) in &self.headers {
            response.headers_mut().append(name.clone(), value.clone());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(media: MediaType) -> Asked {
        Asked {
            cluster: "0b5c1a3e-0000-4000-8000-000000000001"
                .parse()
                .expect("uuid"),
            media,
            base: "http://127.0.0.1:8888".into(),
        }
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).expect("tenant")
    }

    async fn body(response: HttpResponse) -> Bytes {
        actix_web::body::to_bytes(response.into_body())
            .await
            .expect("body")
    }

    #[tokio::test]
    async fn an_answer_is_given_again_to_its_tenant_until_the_next_write() {
        let shown = Shown::default();
        let rendered = HttpResponse::Ok()
            .content_type("text/plain")
            .insert_header(("Cache-Control", "no-store"))
            .body("X-OCCI-Attribute: icclab.disco.state=\"ready\"\n");
        let kept = shown
            .keep(asked(MediaType::TextPlain), tenant("physics"), 7, rendered)
            .await;
        assert_eq!(
            body(kept).await,
            "X-OCCI-Attribute: icclab.disco.state=\"ready\"\n"
        );
        let again = shown
            .answer(&asked(MediaType::TextPlain), &tenant("physics"), 7)
            .expect("kept");
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.headers().get("cache-control").unwrap(), "no-store");
        assert_eq!(again.headers().get("content-type").unwrap(), "text/plain");
        assert_eq!(
            body(again).await,
            "X-OCCI-Attribute: icclab.disco.state=\"ready\"\n"
        );
        assert!(
            shown
                .answer(&asked(MediaType::TextPlain), &tenant("biology"), 7)
                .is_none(),
            "another tenant's"
        );
        assert!(
            shown
                .answer(&asked(MediaType::Json), &tenant("physics"), 7)
                .is_none(),
            "another rendering"
        );
        assert!(
            shown
                .answer(&asked(MediaType::TextPlain), &tenant("physics"), 8)
                .is_none(),
            "written since"
        );
    }
}
