//! The week simulator on the sample hotline: reproducible from a seed, and no caller lost.

use std::path::Path;

use switchboard::calendar::reference_day;
use switchboard::engine::Flow;
use switchboard::files;
use switchboard::queue::model::Model;
use switchboard::sim::week::{self, Setup};

fn inputs() -> (Flow, Model) {
    let flow = files::read_flow(Path::new("flows/support.toml"), Path::new("sounds")).unwrap().flow.unwrap();
    let model = files::read_model(Path::new("flows/support.model.toml")).unwrap();
    (flow, model)
}

fn setup<'a>(flow: &'a Flow, model: &'a Model) -> Setup<'a> {
    let start = reference_day(chrono::Weekday::Mon).and_hms_opt(0, 0, 0).unwrap();
    Setup { flow, model, weeks: 1, start, warmup_s: 86_400.0 }
}

#[test]
fn the_same_seed_gives_the_same_week() {
    let (flow, model) = inputs();
    let s = setup(&flow, &model);
    let a = week::run(&s, 11, 0).unwrap();
    assert_eq!(a, week::run(&s, 11, 0).unwrap());
    assert_ne!(a, week::run(&s, 12, 0).unwrap());
    assert_ne!(a, week::run(&s, 11, 1).unwrap());
}

#[test]
fn every_caller_is_accounted_for() {
    let (flow, model) = inputs();
    let s = setup(&flow, &model);
    for seed in [1, 2, 3] {
        let r = week::run(&s, seed, 0).unwrap();
        let i = &r.ivr;
        let offered: u64 = r.cells.iter().flatten().map(|c| c.callers.offered).sum();
        let answered: u64 = r.cells.iter().flatten().map(|c| c.callers.answered).sum();
        let abandoned: u64 = r.cells.iter().flatten().map(|c| c.callers.abandoned).sum();
        assert_eq!(offered, answered + abandoned);
        let ended_in_ivr = i.contained + i.voicemail + i.callbacks_booked + i.transferred + i.hung_up_in_ivr;
        assert_eq!(i.calls, ended_in_ivr + offered + i.in_system_at_end, "{i:?}");
        assert!(i.calls > 10_000 && i.queued > 5_000 && i.zero_outs > 0 && i.timeout_fallbacks > 0, "{i:?}");
    }
}

#[test]
fn summary_keeps_the_cells_of_every_queue() {
    let (flow, model) = inputs();
    let s = setup(&flow, &model);
    let reps: Vec<_> = (0..2).map(|r| week::run(&s, 5, r).unwrap()).collect();
    let summary = week::summarize(&model, 1, &reps);
    assert_eq!(summary.cells.len(), 3 * 7 * 24);
    let monday_noon = summary
        .cells
        .iter()
        .find(|c| c.queue == "first_line" && c.weekday == chrono::Weekday::Mon && c.hour == 12)
        .unwrap();
    assert!(monday_noon.offered > 50.0 && monday_noon.mean_wait_s.is_some() && monday_noon.mean_wait_ci99.is_some());
    assert!(monday_noon.occupancy.is_some_and(|o| o > 0.3 && o <= 1.0), "{monday_noon:?}");
    let sunday = summary
        .cells
        .iter()
        .find(|c| c.queue == "first_line" && c.weekday == chrono::Weekday::Sun && c.hour == 12)
        .unwrap();
    assert_eq!(sunday.offered, 0.0);
}
