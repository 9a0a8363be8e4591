//! The web dashboard at `/dashboard`: server-rendered pages (handlebars, HTML-escaped,
//! compiled into the binary), a little JavaScript for live state and the task tree, no
//! build step. Forms are protected by a double-submit CSRF token; with Keystone, a
//! browser signs in once and holds a session.
//!
//! The seams: `session` says who is asking, `csrf` guards the forms, `form` reads what
//! they send, `views` draws the pages from typed view models, `pages` holds the handlers
//! that `crate::api::configure` routes to (re-exported here, so the routes name
//! `dashboard::clusters` and so on); `node_choices` fills the create form's images and
//! flavors from the cloud; `timeline` lays the latest task out on a time axis.

mod csrf;
mod form;
mod node_choices;
mod pages;
mod session;
mod timeline;
mod views;

pub(super) use pages::{
    cluster, clusters, create, delete, deploy, events, key, login, login_form, logout, new_form,
    operate, repair, script, states, timeline,
};
