//! How long a client may take to send a request's body: `server.request_timeout_secs`
//! from the end of its head (actix times the head itself, with the same setting, but
//! not the body). A body still incomplete then is answered 408 and its connection
//! closed, so that a client sending a byte a second cannot hold a connection, and the
//! handler waiting on it, for ever.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use futures_util::Stream;
use tokio::time::Sleep;

use super::AppState;
use super::guard::one_line;

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("request body: not received within {0} s (server.request_timeout_secs)")]
pub(crate) struct BodyTimeout(u64);

impl ResponseError for BodyTimeout {
    fn status_code(&self) -> StatusCode {
        StatusCode::REQUEST_TIMEOUT
    }

    fn error_response(&self) -> HttpResponse {
        one_line(self.status_code(), self)
    }
}

/// How far the handler got with the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Reading,
    Read,
    TimedOut,
}

/// The middleware: see the module's doc.
pub async fn body_deadline(
    state: web::Data<AppState>,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let secs = state.settings.server.request_timeout_secs;
    if secs == 0 || !has_body(req.headers()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let progress = Rc::new(Cell::new(Progress::Reading));
    let body = Deadlined {
        inner: req.take_payload(),
        deadline: Box::pin(tokio::time::sleep(Duration::from_secs(secs))),
        progress: Rc::clone(&progress),
    };
    let body: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(body);
    req.set_payload(Payload::from(body));
    let mut response = next.call(req).await?;
    Ok(match progress.get() {
        Progress::Read => response.map_into_left_body(),
        Progress::Reading => {
            // Answered without the whole body (refused early): what is left of it
            // would have to be read, at the client's pace, before the next request.
            close(response.response_mut());
            response.map_into_left_body()
        }
        Progress::TimedOut => {
            let (req, _) = response.into_parts();
            let mut response = ServiceResponse::from_err(BodyTimeout(secs), req);
            close(response.response_mut());
            response.map_into_right_body()
        }
    })
}

fn close<B>(response: &mut HttpResponse<B>) {
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
}

/// Whether the request says a body follows.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|length| length.trim() != "0")
}

/// The request's body, ending in an error once the deadline passes.
struct Deadlined {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    progress: Rc<Cell<Progress>>,
}

impl Stream for Deadlined {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.progress.get() {
            Progress::Read | Progress::TimedOut => return Poll::Ready(None),
            Progress::Reading => {}
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.progress.set(Progress::TimedOut);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the body did not arrive in time",
            )))));
        }
        let next = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(None) = next {
            this.progress.set(Progress::Read);
        }
        next
    }
}
