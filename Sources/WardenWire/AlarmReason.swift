/// Why an alarm record was written (`AuditKind.alarm` / `.alarmCleared` reasons) and what `ControllerStatus.alarms`
/// lists. Raw values are stored, shown by `wardenctl` and read by the cloud: never rename.
public enum AlarmReason: String, Sendable, Codable, CaseIterable {
    case forcedOpen = "forced_open"
    case heldOpen = "held_open"
    case tamper = "tamper"
    /// A relay write failed; the door may not be in the state the controller wants (retried until it succeeds).
    case relayFault = "relay_fault"
    case rateLimited = "rate_limited"
    case rateLimitedGlobal = "rate_limited_global"
    case failuresSummarised = "failures_summarised"
    case accessListUnavailable = "access_list_unavailable"
    case storeFull = "store_full"
    /// The audit journal cannot write (disk full, I/O error); records wait in a bounded backlog.
    case journalWriteFailed = "journal_write_failed"
    /// The wall clock jumped forward past the trusted high-water mark by more than the configured bound.
    case clockJump = "clock_jump"
    /// The cloud acknowledged an audit record whose hash is not the board's: the two disagree about history, so
    /// nothing is freed until an operator looks (docs/mqtt.md section 6).
    case auditChainMismatch = "audit_chain_mismatch"
}
