//! The service's nouns and its validated query values.
//!
//! Regions, their members and the basis of each membership; and the request values every endpoint shares
//! (bounding boxes, paging, output formats), each parsed once into a type that cannot hold a bad value. Parsing
//! errors are [`ParamError`]s that name the parameter and say what is wrong; the HTTP layer turns them into
//! RFC 7807 problems. Nothing here knows actix.

pub mod query;
pub mod region;

pub use query::{Bbox, Limits, Page, ParamError};
pub use region::{Basis, MemberLevel, RegionDef, RegionKind, RegionMember};
