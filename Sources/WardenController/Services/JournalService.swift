import ServiceLifecycle
import WardenStore

/// The audit journal's flusher. Declared first, so it stops last: the door's shutdown records still commit.
struct JournalService: Service {
    let journal: AuditJournal

    func run() async throws {
        let flusher = Task { await journal.run() }
        await withGracefulShutdownHandler {
            await flusher.value
        } onGracefulShutdown: {
            journal.finish()
        }
    }
}
