//! Rule 9, `local-only-variables`: no function of the template sets an `ORDERFLOW_*` variable.
//! `ORDERFLOW_FAULTS`, `ORDERFLOW_FAULT_SEED` and `ORDERFLOW_COUNT_AWS_CALLS` make a function
//! fail on purpose or log every AWS call; the local cloud sets them for chaos and load runs, a
//! deployed stack never may. `Globals` are merged into each function, so one set there is
//! reported on every function.

use super::{read, Rule, Violation};
use crate::model::Template;

/// The prefix of the variables only the local cloud sets.
pub const LOCAL_ONLY_PREFIX: &str = "ORDERFLOW_";

pub fn local_only_variables(template: &Template) -> Vec<Violation> {
    let rule = Rule::LocalOnlyVariables;
    let functions = match read(rule, template.functions()) {
        Ok(f) => f,
        Err(v) => return v,
    };
    functions
        .iter()
        .flat_map(|function| {
            function
                .environment
                .keys()
                .filter(|name| name.starts_with(LOCAL_ONLY_PREFIX))
                .map(|name| {
                    Violation::new(
                        rule,
                        &function.logical_id,
                        format!(
                            "sets {name}: {LOCAL_ONLY_PREFIX}* variables switch on fault \
                             injection or call counting, which only the local cloud may do; \
                             remove it from the template"
                        ),
                    )
                })
        })
        .collect()
}
