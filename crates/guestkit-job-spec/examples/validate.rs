//! Validates job documents: `cargo run -p guestkit-job-spec --example
//! validate -- FILE...` prints each file's operation or every problem.
//! Files ending in `.yaml`/`.yml` are read as YAML, others as JSON.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut failed = false;
    for file in std::env::args().skip(1) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{file}: {e}");
                failed = true;
                continue;
            }
        };
        let yaml = file.ends_with(".yaml") || file.ends_with(".yml");
        let parsed = if yaml {
            guestkit_job_spec::parse_and_validate_yaml(&text)
        } else {
            guestkit_job_spec::parse_and_validate(&text)
        };
        match parsed {
            Ok(doc) => println!("{file}: ok ({} {})", doc.operation, doc.job_id),
            Err(errors) => {
                println!("{file}: {errors}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
