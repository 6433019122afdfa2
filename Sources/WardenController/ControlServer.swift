import Foundation
import Logging
import POSIXIO

/// wardend's local control socket: a Unix stream socket (mode 0600, root only), one JSON request per line, one JSON
/// response per line; `watch` keeps streaming records. Connections are tasks whose reads suspend on `IOReactor`
/// (no thread per connection). Bad requests get an error line naming what was wrong, never a crash.
public final class ControlServer: Sendable {
    public typealias Handler = @Sendable (ControlCommand) async -> ControlResponse
    public typealias Watch = @Sendable () async -> AsyncStream<WatchedRecord>

    public let path: String
    private let listener: SocketListener
    private let handler: Handler
    private let watch: Watch
    private let logger: Logger
    static let maxLine = 64 * 1024

    public init(path: String, logger: Logger, handler: @escaping Handler, watch: @escaping Watch) throws(ControlError) {
        self.path = path
        self.handler = handler
        self.watch = watch
        self.logger = logger
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        do {
            listener = try SocketListener.unix(path: path, kind: .stream, what: "control socket")
        } catch {
            throw ControlError(error.message)
        }
    }

    /// Starts accepting connections.
    public func start() {
        listener.start { [self] connection in Task { await self.serve(connection) } }
    }

    /// False once the accept loop has died (the watchdog stops being fed).
    public var isAlive: Bool { listener.isAlive }

    /// Stops accepting and removes the socket file.
    public func stop() {
        listener.stop()
        unlink(path)
    }

    private func serve(_ c: ConnectedSocket) async {
        defer { c.close() }
        var buffer: [UInt8] = []
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                if await !handleLine(line, on: c) { return }
                continue
            }
            if buffer.count > Self.maxLine {
                _ = await send(ControlResponse.failure("request line longer than \(Self.maxLine) bytes"), on: c)
                return
            }
            guard let chunk = try? await c.receive(upTo: 4096) else { return }
            buffer += chunk
        }
    }

    /// Returns false when the connection should close.
    private func handleLine(_ line: [UInt8], on c: ConnectedSocket) async -> Bool {
        let request: ControlRequest
        do { request = try JSONDecoder().decode(ControlRequest.self, from: Data(line)) } catch {
            return await send(.failure("not a JSON request object with a \"cmd\" field: \(error)"), on: c)
        }
        let command: ControlCommand
        do { command = try ControlCommand(request) } catch {
            return await send(.failure(error.message), on: c)
        }
        if command == .watch {
            await streamWatch(on: c)
            return false
        }
        return await send(await handler(command), on: c)
    }

    /// Streams records until the client closes its end (a read returns end of stream) or a write fails.
    private func streamWatch(on c: ConnectedSocket) async {
        let records = await watch()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await r in records {
                    var resp = ControlResponse(ok: true)
                    resp.record = r
                    if await !self.send(resp, on: c) { break }
                }
            }
            group.addTask {
                while (try? await c.receive(upTo: 256)) != nil {}
            }
            await group.next()
            group.cancelAll()
            c.close()
        }
    }

    private func send(_ r: ControlResponse, on c: ConnectedSocket) async -> Bool {
        guard var data = try? JSONEncoder().encode(r) else { return false }
        data.append(UInt8(ascii: "\n"))
        do {
            try await c.send(Array(data))
            return true
        } catch {
            return false
        }
    }
}

/// The control socket could not be set up or reached.
public struct ControlError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
