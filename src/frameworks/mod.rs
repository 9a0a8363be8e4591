//! Framework components: the catalogue (`frameworks/`) and how a request names them
//! (`inject`, the Python literal of `icclab.disco.dependencies.inject`).

pub mod inject;
