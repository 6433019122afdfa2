import Testing

/// The suites that start a whole stack (PostgreSQL, mosquitto, warden-cloud, boards) run one test at a time: the
/// fleet test's hundred boards and broker restarts on the same two cores made the timing of the others (command
/// lifetimes, the one-second grant) fail when they overlapped.
@Suite(.serialized) enum CloudStackSuite {}
