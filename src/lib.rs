//! planatlas: Liaoning's "one circle, one belt, two zones" (一圈一带两区) regional plan as an OGC API – Features
//! service.
//!
//! The crate loads the real city and county boundaries, builds the plan's four regions from them, joins the
//! plan's projects to counties, cities and regions, and answers map, proximity and "where is this" queries.
//!
//! Layout (dependency direction `routes → store → domain → geom`):
//! - [`geom`]: pure geometry on `geo-types` (geodesic distances, GeoJSON output); knows no domain type.
//! - [`domain`]: regions and their members; validated query values (bbox, paging).
//! - [`store`]: the catalog: loading and validating the geodata, dissolving regions, indexes, selections.
//! - [`routes`]: actix-web handlers; the only place that knows HTTP, with [`error`] turning errors into
//!   RFC 7807 problems.
//! - [`config`], [`startup`], [`telemetry`]: command line, server assembly, logging.

pub mod answers;
pub mod auth;
pub mod compute;
pub mod config;
pub mod domain;
pub mod error;
pub mod export;
pub mod geom;
pub mod import;
pub mod ops;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
