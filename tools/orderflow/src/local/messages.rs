//! Lines the local cloud writes that other code reads back: `orderflow chaos` counts the
//! injected faults from them, the end-to-end tests wait for [`READY`]. One definition each, so
//! the writer and the reader cannot drift apart. (The functions' own log messages are
//! `orderflow_shared`'s.)

/// `orderflow local up` says so when every function is waiting for work.
pub const READY: &str = "ready: API";

/// The name the AWS fault proxy writes its lines under.
pub const AWS_FAULTS: &str = "aws-faults";
/// The fault proxy answered a call with a throttling error: `<this> <operation>`.
pub const INJECTED_THROTTLING: &str = "injected fault: throttling";
/// The fault proxy answered a call with a 503: `<this> <operation>`.
pub const INJECTED_UNAVAILABLE: &str = "injected fault: 503 for";
/// The fault proxy applied a call and lost its answer: `<this> (<500|503|reset>) for <operation>`.
pub const INJECTED_LOST_RESPONSE: &str = "injected fault: lost response";
/// An event source mapping left processed messages undeleted: `<this><id>, <id>, …`.
pub const INJECTED_DUPLICATE_DELIVERY: &str = "injected fault: duplicate delivery of ";

/// A function process ended outside an invocation's timeout and is started again.
pub const PROCESS_EXITED: &str = "process exited";

/// A function's binary was rebuilt and its processes are being replaced: `<this> <function>: …`.
pub const RELOADED: &str = "hot reload:";
