//! Parses a script file and prints the outcome (for profiling the parser on one input:
//! `cargo run --release -p openhybrid-psh --example parse_file -- FILE`).
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_file FILE");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let s = String::from_utf8_lossy(&bytes);
    let more = psh::needs_more_input(&s);
    match psh::parse(&s) {
        Ok(p) => println!(
            "ok ({} statements), needs more input: {more}",
            p.statements.len()
        ),
        Err(e) => println!("error: {e}\nneeds more input: {more}"),
    }
}
