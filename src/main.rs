//! The `planatlas` binary: parse the command line, load the data, run the server (or another subcommand).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use planatlas::config::{Cli, Command, DataArgs, ServeArgs, Settings};
use planatlas::startup::Application;
use planatlas::store::Catalog;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(&args),
        None => serve(&cli.serve),
        Some(Command::Check(args)) => check(&args),
    }
}

fn load(data: &DataArgs) -> Result<Catalog, ExitCode> {
    Catalog::load(data.source()).map_err(|e| {
        eprintln!("planatlas: cannot load the data: {e}");
        ExitCode::FAILURE
    })
}

fn serve(args: &ServeArgs) -> ExitCode {
    planatlas::telemetry::init(args.log_format);
    let settings = match Settings::try_from(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("planatlas: {e}");
            return ExitCode::from(2);
        }
    };
    let catalog = match load(&args.data) {
        Ok(c) => c,
        Err(code) => return code,
    };
    tracing::info!(
        source = %catalog.source().describe(),
        load_ms = format!("{:.1}", catalog.report().total_ms),
        collections = ?catalog.collections().iter().map(|c| (c.id(), c.features().len())).collect::<Vec<_>>(),
        "data loaded"
    );
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, Arc::new(catalog))?;
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
    planatlas::telemetry::init(planatlas::config::LogFormat::Text);
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
