//! `aisle`: the command-line entry point. Parses flags and config, picks a runtime, and wires
//! the library crates together.

fn main() {
    println!("aisle");
}
