//! The `planatlas` binary: parse the command line, load the data, run the server (or another subcommand).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use planatlas::config::{
    Cli, Command, DataArgs, ExportArgs, ImportArgs, MigrateArgs, ServeArgs, Settings, StoreArgs, TokenAction,
    TokenArgs,
};
use planatlas::export::{ExportFormat, ExportOptions, PLAN_LAYERS, What, write_export};
use planatlas::geom::crs::Crs;
use planatlas::startup::Application;
use planatlas::store::engine::Engine;
use planatlas::store::layers::LayerSpec;
use planatlas::store::{Catalog, DataSource};

/// mimalloc instead of the system allocator: answers allocate and free many small buffers across threads,
/// where glibc's malloc spent a tenth of a request's time (consolidating free lists); it also packs a large
/// layer's many small property values more tightly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // The store options reach every subcommand's line; `check` reads only the data files, so a store named on
    // its line would look checked and was not.
    if let Some(("check", sub)) = matches.subcommand() {
        let given = |id: &str| {
            sub.try_contains_id(id).unwrap_or(false)
                && sub.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
        };
        if let Some(option) = ["data_dir", "store"].into_iter().find(|id| given(id)) {
            eprintln!(
                "planatlas: check validates the data files (--data, or the shipped ones), not a store; --{} is \
                 not read by it (a server checks its store as it starts)",
                option.replace('_', "-")
            );
            return ExitCode::from(2);
        }
    }
    let code = match cli.command {
        Some(Command::Serve(args)) => serve(&args),
        None => serve(&cli.serve),
        Some(Command::Check(args)) => check(&args),
        Some(Command::Export(args)) => export(&args),
        Some(Command::Token(args)) => token(&args),
        Some(Command::Import(args)) => import(&args),
        Some(Command::Migrate(args)) => migrate(&args),
    };
    // Threads still ending must not tear PROJ down while `exit` does.
    planatlas::geom::crs::process_ending();
    code
}

/// The store `import` writes to and `export` reads (with these layers), or `None` (said on stderr) when it
/// cannot be opened.
fn open_store(data: &DataArgs, store: &StoreArgs, layers: &[LayerSpec]) -> Option<Engine> {
    let dir = store.location();
    Engine::open_at(data.source(), &dir, layers)
        .map_err(|e| eprintln!("planatlas: cannot open the store in {dir}: {e}"))
        .ok()
}

/// `planatlas import FILE --new-collection ID`: a planner's layer into the store.
fn import_layer(args: &ImportArgs, id: &str) -> ExitCode {
    let spec = match format!("{id}={}", args.file.display()).parse::<planatlas::store::layers::LayerSpec>() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("planatlas: --new-collection: {e}");
            return ExitCode::from(2);
        }
    };
    let file = match planatlas::store::layers::read(&spec).map(|mut v| (v.len(), v.pop())) {
        Ok((1, Some(f))) => f,
        Ok(_) => {
            eprintln!(
                "planatlas: {}: the file has several layers; name one as FILE:LAYER",
                args.file.display()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("planatlas: {e}; nothing imported");
            return ExitCode::FAILURE;
        }
    };
    let dir = args.store.location();
    let Some(engine) = open_store(&args.data, &args.store, &[]) else { return ExitCode::FAILURE };
    let n = file.features.len();
    match engine.put_layer(
        &format!("import {}", args.file.display()),
        &file,
        planatlas::store::engine::LayerExpect::Any,
    ) {
        Ok(done) => {
            eprintln!(
                "planatlas: imported {} as collection '{id}': {n} features ({}), store revision {} in {}",
                args.file.display(),
                file.crs,
                done.revision,
                dir
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("planatlas: {}: {e}; nothing imported", args.file.display());
            ExitCode::FAILURE
        }
    }
}

fn import(args: &ImportArgs) -> ExitCode {
    if let Some(id) = &args.new_collection {
        return import_layer(args, id);
    }
    if args.collection != "projects" {
        eprintln!("planatlas: only projects can be imported (got --collection {})", args.collection);
        return ExitCode::from(2);
    }
    let (features, crs) = match planatlas::import::read_features(&args.file) {
        Ok(f) => {
            // A file written in EPSG:4326 holds longitude first, as CRS84 does: the two agree.
            let same = |a: Crs, b: Crs| a.of_east_first_file() == b.of_east_first_file();
            match (args.crs, f.crs) {
                (Some(given), Some(named)) if !same(given, named) => {
                    eprintln!(
                        "planatlas: {}: the file says its coordinates are in {named}, --crs says {given}; nothing \
                         imported",
                        args.file.display()
                    );
                    return ExitCode::from(2);
                }
                (given, named) => (f.features, given.or(named).unwrap_or(Crs::Crs84)),
            }
        }
        Err(e) => {
            eprintln!("planatlas: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = args.store.location();
    let Some(engine) = open_store(&args.data, &args.store, &[]) else { return ExitCode::FAILURE };
    let bar = ProgressBar::new(features.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} features")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("reading {}", args.file.display()));
    let mut records = Vec::with_capacity(features.len());
    let model = engine.model();
    for (n, f) in features.iter().enumerate() {
        let id = f
            .pointer("/properties/id")
            .or_else(|| f.get("id"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // A geometry exactly as exported from the stored one in the file's CRS is that one, unchanged.
        let current = model
            .catalog
            .projects()
            .get(&id)
            .and_then(|p| p.geometry.as_ref())
            .and_then(|g| planatlas::geom::geojson_in(g, Crs::Crs84).ok());
        // The file's top-level id may be a row number (GDAL writes a GeoPackage's fid there); the id is the
        // project's, read above, so the record is checked without it.
        let mut f = planatlas::import::in_axis_order(f.clone(), crs);
        if let Some(o) = f.as_object_mut() {
            o.remove("id");
        }
        match planatlas::store::records::project_record(&f, &id, crs, current.as_ref()) {
            Ok(r) => records.push((id, r)),
            Err(e) => {
                bar.abandon();
                eprintln!(
                    "planatlas: {}: feature #{} ({id}): `{}` {}; nothing imported",
                    args.file.display(),
                    n + 1,
                    e.field,
                    e.detail
                );
                return ExitCode::FAILURE;
            }
        }
        bar.inc(1);
    }
    let actor = format!("import {}", args.file.display());
    let result = engine.import(&actor, records, &|step| bar.set_message(step.to_owned()));
    bar.finish_and_clear();
    match result {
        Ok(done) => {
            eprintln!(
                "planatlas: imported {}: {} created, {} changed, {} unchanged (store revision {}, {})",
                args.file.display(),
                done.created.len(),
                done.changed.len(),
                done.unchanged,
                done.revision,
                dir
            );
            for id in &done.created {
                eprintln!("  created {id}");
            }
            for id in &done.changed {
                eprintln!("  changed {id}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("planatlas: {}: {e}; nothing imported", args.file.display());
            ExitCode::FAILURE
        }
    }
}

#[expect(clippy::print_stdout, reason = "the token is printed once, to the terminal")]
fn token(args: &TokenArgs) -> ExitCode {
    // Listing or revoking reads a store that exists: a mistyped --data-dir must not make (and seed) a new one.
    if args.store.store.is_none() && !matches!(args.action, TokenAction::Add { .. }) {
        let file = args.store.dir().join(planatlas::store::db::FILE_NAME);
        if !file.exists() {
            eprintln!(
                "planatlas: there is no store in {} (no {}); no tokens",
                args.store.dir().display(),
                planatlas::store::db::FILE_NAME
            );
            return ExitCode::FAILURE;
        }
    }
    // The same on PostgreSQL: a database no store was ever made in is not made one (and seeded) by a list.
    if let Some(url) = &args.store.store
        && !matches!(args.action, TokenAction::Add { .. })
    {
        let nothing = || {
            Err("there is no planatlas store in this database (none was ever seeded or migrated into it)"
                .to_owned())
        };
        if let Err(e) = planatlas::store::pg::PgStore::open(url, nothing, "token") {
            eprintln!("planatlas: {e}; no tokens");
            return ExitCode::FAILURE;
        }
    }
    let dir = args.store.location();
    let engine = match Engine::open_at(DataSource::Embedded, &dir, &[]) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("planatlas: cannot open the store in {dir}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(store) = engine.store() else { return ExitCode::FAILURE };
    match &args.action {
        TokenAction::Add { name, scope } => {
            let model = engine.model();
            if let Err(e) = planatlas::auth::Scope::parse(scope, &model.catalog) {
                eprintln!("planatlas: {e}");
                return ExitCode::from(2);
            }
            let token = match planatlas::auth::new_token() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("planatlas: cannot read random bytes: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match store.add_token(name, scope, &planatlas::auth::hash(&token)) {
                Ok(id) => {
                    println!("{token}");
                    eprintln!(
                        "planatlas: token {id} for {name} (scope {scope}) added to {}; it is shown only now, only its SHA-256 hash is stored",
                        store.describe()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("planatlas: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        TokenAction::List => match store.tokens() {
            Ok(list) => {
                println!("{:>4}  {:<24} {:<22} {:<25} revoked", "id", "name", "scope", "created");
                for t in list {
                    println!(
                        "{:>4}  {:<24} {:<22} {:<25} {}",
                        t.id,
                        t.name,
                        t.scope,
                        t.created,
                        t.revoked.as_deref().unwrap_or("-")
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("planatlas: {e}");
                ExitCode::FAILURE
            }
        },
        TokenAction::Revoke { id } => match store.revoke_token(*id) {
            Ok(true) => {
                eprintln!("planatlas: token {id} revoked");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("planatlas: no live token {id} (see `planatlas token list`)");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("planatlas: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn export(args: &ExportArgs) -> ExitCode {
    // The store's catalogue, as a server on it has it: edits, imports and planners' layers included.
    let Some(engine) = open_store(&args.data, &args.store, &args.data.layers) else {
        return ExitCode::FAILURE;
    };
    let model = engine.model();
    let catalog = &model.catalog;
    let what = match (&args.collection, args.format) {
        (None, ExportFormat::GeoPackage) => What::Plan,
        (None, f) => {
            eprintln!("planatlas: --collection is needed for {} (only gpkg holds the whole plan)", f.name());
            return ExitCode::from(2);
        }
        (Some(id), _) => match catalog.collection(id) {
            Some(c) => What::Collection {
                id: id.clone(),
                features: c.features().iter().map(|f| f.id.clone()).collect(),
            },
            None => {
                let ids: Vec<&str> = catalog.collections().iter().map(|c| c.id()).collect();
                eprintln!("planatlas: no collection '{id}'; collections: {}", ids.join(", "));
                return ExitCode::from(2);
            }
        },
    };
    let total: usize = match &what {
        What::Plan => {
            PLAN_LAYERS.iter().filter_map(|id| catalog.collection(id)).map(|c| c.features().len()).sum()
        }
        What::Collection { features, .. } => features.len(),
    };
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} features ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    if args.format == ExportFormat::Shapefile
        && !args.out.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        eprintln!(
            "planatlas: a Shapefile export is a zip of its .shp, .shx, .dbf, .prj and .cpg files; name it \
             *.shp.zip (got {})",
            args.out.display()
        );
        return ExitCode::from(2);
    }
    bar.set_message(format!("writing {}", args.out.display()));
    // Written beside the target and renamed over it only once complete: a failed export leaves whatever
    // was at --out untouched.
    let partial = {
        let mut name = args.out.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".partial-{}", std::process::id()));
        args.out.with_file_name(name)
    };
    let file = match std::fs::File::create(&partial) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("planatlas: cannot create {}: {e}", args.out.display());
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::BufWriter::new(file);
    let options = ExportOptions { crs: args.crs, bom: args.bom, properties: None };
    let result = write_export(catalog, &what, args.format, &options, &mut out, &|| bar.inc(1))
        .and_then(|()| std::io::Write::flush(&mut out).map_err(Into::into))
        .and_then(|()| {
            drop(out);
            std::fs::rename(&partial, &args.out).map_err(Into::into)
        });
    bar.finish_and_clear();
    match result {
        Ok(()) => {
            eprintln!("planatlas: wrote {total} features to {} ({})", args.out.display(), args.format.name());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("planatlas: export failed: {e}");
            let _ = std::fs::remove_file(&partial);
            ExitCode::FAILURE
        }
    }
}

fn load(data: &DataArgs) -> Result<Catalog, ExitCode> {
    Catalog::load_with_layers(data.source(), &data.layers).map_err(|e| {
        eprintln!("planatlas: cannot load the data: {e}");
        ExitCode::FAILURE
    })
}

/// `planatlas migrate --to postgres://…`: the embedded store, whole, into an empty `PostgreSQL` database.
fn migrate(args: &MigrateArgs) -> ExitCode {
    if args.store.store.is_some() {
        eprintln!(
            "planatlas: migrate copies the embedded store (--data-dir) into --to; --store (or PLANATLAS_STORE) names \
             no source it reads"
        );
        return ExitCode::from(2);
    }
    let dir = args.store.dir();
    if !dir.join(planatlas::store::db::FILE_NAME).exists() {
        eprintln!(
            "planatlas: there is no embedded store in {} (no {}); nothing to migrate",
            dir.display(),
            planatlas::store::db::FILE_NAME
        );
        return ExitCode::FAILURE;
    }
    let from =
        match planatlas::store::db::Store::open(&dir, || Err("the store is not seeded".into()), "migrate") {
            Ok(s) => s,
            Err(e) => {
                eprintln!("planatlas: cannot open the store in {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        };
    let dump = match from.dump() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("planatlas: cannot read the store in {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let to = match planatlas::store::pg::PgStore::open_empty(&args.to) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("planatlas: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bar = ProgressBar::new(dump.versions.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} versions")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("copying");
    let copied = to.restore(&dump, &|n| bar.set_position(n as u64));
    bar.finish_and_clear();
    match copied {
        Ok(()) => {
            use planatlas::store::db::Backend;
            let ids = dump.versions.iter().map(|v| &v.id).collect::<std::collections::HashSet<_>>().len();
            eprintln!(
                "planatlas: copied {} versions of {ids} features and {} tokens from {} to {}",
                dump.versions.len(),
                dump.tokens.len(),
                from.path().display(),
                to.describe()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("planatlas: {e}; nothing copied");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> ExitCode {
    let _log = planatlas::telemetry::init(args.log_format);
    let settings = match Settings::try_from(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("planatlas: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let dir = args.store.location();
    let engine = match Engine::open_at(args.data.source(), &dir, &args.data.layers) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("planatlas: cannot load the data: {e}");
            return ExitCode::FAILURE;
        }
    };
    let model = engine.model();
    tracing::info!(
        source = %model.catalog.source().describe(),
        revision = model.revision,
        load_ms = format!("{:.1}", start.elapsed().as_secs_f64() * 1e3),
        collections = ?model.catalog.collections().iter().map(|c| (c.id(), c.features().len())).collect::<Vec<_>>(),
        "data loaded"
    );
    drop(model);
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, Arc::new(engine))?;
        tracing::info!(address = %app.address(), "listening on http://{}", app.address());
        app.run().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("planatlas: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[expect(clippy::print_stdout, reason = "check reports to the terminal")]
fn check(args: &DataArgs) -> ExitCode {
    let _log = planatlas::telemetry::init(planatlas::config::LogFormat::Text);
    let start = Instant::now();
    let catalog = match load(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    println!("data: {}", catalog.source().describe());
    for c in catalog.collections() {
        println!("  {:<10} {:>6} features", c.id(), c.features().len());
    }
    println!("loaded and validated in {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    ExitCode::SUCCESS
}
