//! Prints the strategy comparison table (markdown) and writes every simulated
//! interval as CSV for plotting (scripts/plot_simulation.py).
//!
//!     cargo run -p walrus-strategies --bin walrus-sim -- [--csv FILE]

use walrus_strategies::simulator::{Scenario, compare, csv, markdown_table};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let csv_path = args.iter().position(|a| a == "--csv").and_then(|i| args.get(i + 1));
    let summaries = compare(&Scenario::default());
    print!("{}", markdown_table(&summaries));
    if let Some(path) = csv_path {
        if let Err(error) = std::fs::write(path, csv(&summaries)) {
            eprintln!("could not write {path}: {error}");
            std::process::exit(1);
        }
        eprintln!("wrote {path}");
    }
}
