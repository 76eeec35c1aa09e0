//! Where the geodata comes from (the copy embedded in the binary, or a directory) and what goes wrong reading it.

use std::borrow::Cow;
use std::path::PathBuf;

/// The files the service loads, by name inside the data directory.
pub const DATA_FILES: &[&str] = &[
    "liaoning-cities.geojson",
    "liaoning-counties.geojson",
    "regions.toml",
    "plan-items.json",
    "projects.geojson",
    "targets.json",
    "seats.json",
];

/// The shipped `geodata/`, compiled into the binary so it runs from any directory.
static EMBEDDED: &[(&str, &str)] = &[
    ("liaoning-cities.geojson", include_str!("../../geodata/liaoning-cities.geojson")),
    ("liaoning-counties.geojson", include_str!("../../geodata/liaoning-counties.geojson")),
    ("regions.toml", include_str!("../../geodata/regions.toml")),
    ("plan-items.json", include_str!("../../geodata/plan-items.json")),
    ("projects.geojson", include_str!("../../geodata/projects.geojson")),
    ("targets.json", include_str!("../../geodata/targets.json")),
    ("seats.json", include_str!("../../geodata/seats.json")),
    ("progress.json", include_str!("../../geodata/progress.json")),
    ("indicators.json", include_str!("../../geodata/indicators.json")),
];

/// A reason the data could not be loaded. Every variant names the file; feature-level ones name the feature.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read it: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON / GeoJSON / TOML.
    #[error("{file}: not valid {format}: {detail}")]
    Syntax {
        /// The file.
        file: String,
        /// What it should have been.
        format: &'static str,
        /// The parser's message (with line and column where it gives them).
        detail: String,
    },
    /// One feature or entry is wrong.
    #[error("{file}: feature {feature}: {reason}")]
    Feature {
        /// The file.
        file: String,
        /// The feature's id, or its position when it has none.
        feature: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file as a whole is wrong (missing entries, wrong counts).
    #[error("{file}: {reason}")]
    File {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

impl LoadError {
    /// A feature-level error.
    pub fn feature(file: &str, feature: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Feature { file: file.to_owned(), feature: feature.into(), reason: reason.into() }
    }
}

/// Where to read the geodata from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The copy of `geodata/` compiled into the binary.
    Embedded,
    /// A directory holding the same file names.
    Dir(PathBuf),
    /// Another source's files, with the projects from the store instead of its `projects.geojson`.
    Stored {
        /// Where everything but the projects comes from.
        base: Box<DataSource>,
        /// The projects, as a GeoJSON FeatureCollection.
        projects: std::sync::Arc<str>,
        /// The progress reports, as a JSON array of records.
        progress: std::sync::Arc<str>,
        /// The indicator values, as a JSON array of records.
        indicators: std::sync::Arc<str>,
        /// The database they come from, for messages.
        db: String,
    },
}

impl DataSource {
    /// Reads one file, returning the name to show in messages and its text.
    pub fn read(&self, name: &str) -> Result<(String, Cow<'static, str>), LoadError> {
        match self {
            Self::Stored { projects, db, .. } if name == "projects.geojson" => {
                Ok((format!("{db} (projects)"), Cow::Owned(projects.to_string())))
            }
            Self::Stored { progress, db, .. } if name == "progress.json" => {
                Ok((format!("{db} (progress)"), Cow::Owned(progress.to_string())))
            }
            Self::Stored { indicators, db, .. } if name == "indicators.json" => {
                Ok((format!("{db} (indicators)"), Cow::Owned(indicators.to_string())))
            }
            Self::Stored { base, .. } => base.read(name),
            Self::Embedded => {
                let text = EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or_else(|| {
                    LoadError::File { file: format!("embedded:{name}"), reason: "not embedded".into() }
                })?;
                Ok((format!("geodata/{name} (embedded)"), Cow::Borrowed(text)))
            }
            Self::Dir(dir) => {
                let path = dir.join(name);
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| LoadError::Io { file: shown.clone(), source })?;
                Ok((shown, Cow::Owned(text)))
            }
        }
    }

    /// A short description for logs and the landing page.
    pub fn describe(&self) -> String {
        match self {
            Self::Stored { base, db, .. } => format!("{} with the projects from {db}", base.describe()),
            Self::Embedded => "embedded geodata/".to_owned(),
            Self::Dir(dir) => dir.display().to_string(),
        }
    }
}
