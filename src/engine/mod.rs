//! The flow engine: the flow model, its parser and checks, and the sans-IO call state machine.
//!
//! Nothing in here reads files or clocks, opens sockets or draws random numbers: drivers pass
//! text, time and input in and perform the actions that come out.

pub mod call;
pub mod check;
pub mod diagnostic;
pub mod flow;
pub mod graph;
pub mod matching;
pub mod millis;
pub mod parse;
pub mod reader;
pub mod report;
pub mod spoken;

pub use call::{Action, Call, Event, Gather, MAX_HOPS, OPERATOR_QUEUE, Outcome, OutcomeKind, Output, Start, Trace};
pub use diagnostic::{Diagnostic, Severity};
pub use flow::{Flow, NodeId, NodeKind};
pub use millis::Millis;

/// Parses and checks a flow's text: the flow (if it has no errors) and every diagnostic, in
/// source order. Drivers reading a file use `files::read_flow`, which also measures sounds.
pub fn parse_and_check(source: &str) -> (Option<Flow>, Vec<Diagnostic>) {
    let parse::Parsed { flow, mut diagnostics } = parse::parse(source);
    let flow = flow.and_then(|flow| {
        diagnostics.extend(check::check(&flow));
        (!diagnostics.iter().any(Diagnostic::is_error)).then_some(flow)
    });
    diagnostic::sort(&mut diagnostics);
    (flow, diagnostics)
}
