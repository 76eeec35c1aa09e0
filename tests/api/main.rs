//! End-to-end tests: the real server on a free port of 127.0.0.1, driven over HTTP and by real clients (GDAL, `OWSLib`).

#![allow(clippy::unwrap_used, reason = "a test that meets an unexpected None should fail loudly")]

mod helpers;

mod clients;
mod collections;
mod crs;
mod edit;
mod errors;
mod exports;
mod filters;
mod gdal;
mod landing;
mod layers;
mod loader;
mod locate;
mod ops;
mod progress;
mod projects;
mod proximity;
mod regions;
mod tiles;
