//! Framework components: the catalogue (`frameworks/`), how a request names them
//! (`inject`, the Python literal of `icclab.disco.dependencies.inject`), and the
//! resolution of a request into a `Plan`.

pub mod catalogue;
pub mod init;
pub mod inject;
pub mod plan;
pub mod request;
pub mod resolve;
#[cfg(test)]
pub(crate) mod testing;
