import Testing

/// The API suites each start a PostgreSQL and a mosquitto: one at a time, so they do not crowd the two cores that
/// the rest of `swift test --parallel` (the fleet test's hundred boards among them) runs on.
@Suite(.serialized) enum CloudAPISuite {}
