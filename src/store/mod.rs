//! The catalog: loads and validates the geodata, dissolves the regions, joins projects to places, and holds
//! every collection with its indexes. Nothing here imports actix: the routes call in, the store answers.

pub mod admin;
pub mod catalog;
pub mod collection;
pub mod cql;
pub mod db;
pub mod dispatch;
pub mod engine;
pub mod layers;
pub mod pg;
pub mod progress;
pub mod projects;
pub mod props;
pub mod query;
pub mod records;
pub mod report;
pub mod source;
pub mod tiles;

pub use catalog::{Area, Catalog, Location};
pub use collection::{
    Collection, CollectionMeta, Feature, Found, ParamKind, ParamSpec, PropertyType, Queryable,
};
pub use props::Properties;
pub use query::{Filter, ItemsQuery, SortKey};
pub use source::{DataSource, LoadError};
