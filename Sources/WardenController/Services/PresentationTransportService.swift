import Foundation
import POSIXIO
import ServiceLifecycle

/// The development transports (Unix seqpacket, TCP), bound before the group starts. On shutdown: stop accepting,
/// cancel sessions under way, remove the Unix socket's file.
struct PresentationTransportService<C: Clock>: Service where C.Duration == Duration {
    let listeners: [SocketListener]
    let unixPath: String?
    let service: PresentationService<C>
    let health: DaemonHealth

    func run() async throws {
        for l in listeners { l.start { c in Task { await service.handle(SocketFrameChannel(c)) } } }
        health.serving("presentation transports")
        try? await gracefulShutdown()
        for l in listeners { l.stop() }
        service.stop()
        if let unixPath { unlink(unixPath) }
    }
}
