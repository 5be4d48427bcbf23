//! Snapshots of outputs people read, from the real binary on the sample hotline: `graph` in
//! each format and `check --report`. Review a changed snapshot like a code diff; write new
//! ones with `INSTA_UPDATE=always cargo test --test snapshots`.

mod common;

use common::run;

#[test]
fn graph_dot() {
    insta::assert_snapshot!(run(&["graph", "flows/support.toml"]).code(0).stdout());
}

#[test]
fn graph_mermaid() {
    insta::assert_snapshot!(run(&["graph", "flows/support.toml", "--format", "mermaid"]).code(0).stdout());
}

#[test]
fn graph_json() {
    insta::assert_snapshot!(run(&["graph", "flows/support.toml", "--format", "json"]).code(0).stdout());
}

#[test]
fn check_report() {
    insta::assert_snapshot!(run(&["check", "flows/support.toml", "--report"]).code(0).stdout());
}
