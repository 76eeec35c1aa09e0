-- planatlas on PostgreSQL/PostGIS: the same store as the embedded SQLite one (src/store/db.rs), in schema
-- planatlas. `versions` is the change table every instance follows in revision order; revisions are given
-- under the store's write lock (an advisory lock), so their order is the commit order.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS planatlas;

CREATE TABLE planatlas.meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- Every version of every stored feature (transaction time); record is the GeoJSON Feature as written, NULL
-- for a deletion.
CREATE TABLE planatlas.versions (
    revision bigint PRIMARY KEY,
    key text NOT NULL,
    version bigint NOT NULL,
    op text NOT NULL,
    at text NOT NULL,
    actor text NOT NULL,
    record text
);
CREATE INDEX versions_by_key ON planatlas.versions (key, version);
CREATE INDEX versions_by_time ON planatlas.versions (at);

-- The current row of each feature. key is the store key (`{collection}/{id}`, a bare id for projects);
-- properties and geom are the record's, for SQL and GIS clients (GDAL, QGIS) reading the tables directly.
CREATE TABLE planatlas.features (
    key text PRIMARY KEY,
    collection text NOT NULL,
    id text NOT NULL,
    version bigint NOT NULL,
    record text,
    first_revision bigint NOT NULL,
    properties jsonb,
    geom geometry(Geometry, 4326)
);
CREATE INDEX features_geom ON planatlas.features USING gist (geom);
CREATE INDEX features_by_collection ON planatlas.features (collection, first_revision);

-- Write tokens: only their SHA-256 hashes.
CREATE TABLE planatlas.tokens (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    scope text NOT NULL,
    hash text NOT NULL UNIQUE,
    created text NOT NULL,
    revoked text
);

-- One view per stored collection, as GIS clients list them: the live features, their input properties as
-- columns, the geometry in EPSG:4326.
CREATE VIEW planatlas.projects AS
SELECT id,
       version,
       properties ->> 'name_zh' AS name_zh,
       properties ->> 'name_en' AS name_en,
       properties ->> 'category' AS category,
       properties ->> 'lead_unit' AS lead_unit,
       properties ->> 'city_adcode' AS city_adcode,
       properties ->> 'county_adcode' AS county_adcode,
       properties ->> 'named_place' AS named_place,
       properties ->> 'location_precision' AS location_precision,
       properties ->> 'location_source' AS location_source,
       properties ->> 'excerpt' AS excerpt,
       properties,
       geom
FROM planatlas.features
WHERE collection = 'projects' AND record IS NOT NULL;

CREATE VIEW planatlas.progress AS
SELECT id, version, properties ->> 'project' AS project, properties ->> 'period' AS period,
       properties ->> 'stage' AS stage, properties
FROM planatlas.features
WHERE collection = 'progress' AND record IS NOT NULL;

CREATE VIEW planatlas.indicators AS
SELECT id, version, properties ->> 'target' AS target, properties ->> 'area' AS area,
       properties ->> 'period' AS period, properties
FROM planatlas.features
WHERE collection = 'indicators' AND record IS NOT NULL;
