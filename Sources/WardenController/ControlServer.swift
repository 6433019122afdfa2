import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// wardend's local control socket: a Unix stream socket (mode 0600, root only), one JSON request per line, one JSON
/// response per line; `watch` keeps streaming records. A thread per connection keeps blocking reads off Swift's
/// cooperative pool; the handler runs as a task. Bad requests get an error line, never a crash.
public final class ControlServer: Sendable {
    public typealias Handler = @Sendable (ControlRequest) async -> ControlResponse
    public typealias Watch = @Sendable () async -> AsyncStream<WatchedRecord>

    public let path: String
    private let fd: Int32
    private let handler: Handler
    private let watch: Watch
    private let logger: Logger
    static let maxLine = 64 * 1024

    public init(path: String, logger: Logger, handler: @escaping Handler, watch: @escaping Watch) throws(ControlError) {
        self.path = path
        self.handler = handler
        self.watch = watch
        self.logger = logger
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = try UnixSocketAddress.listen(path: path, type: Int32(SOCK_STREAM.rawValue), what: "control socket")
        self.fd = fd
        Thread.detachNewThread { [self] in self.acceptLoop() }
    }

    private func acceptLoop() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            Thread.detachNewThread { [self] in self.serve(c) }
        }
    }

    public func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        unlink(path)
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                if !handleLine(line, on: c) { return }
                continue
            }
            if buffer.count > Self.maxLine {
                send(ControlResponse.failure("request line longer than \(Self.maxLine) bytes"), on: c)
                return
            }
            let n = read(c, &chunk, chunk.count)
            if n <= 0 { return }
            buffer += chunk[..<n]
        }
    }

    /// Returns false when the connection should close.
    private func handleLine(_ line: [UInt8], on c: Int32) -> Bool {
        let request: ControlRequest
        do { request = try JSONDecoder().decode(ControlRequest.self, from: Data(line)) } catch {
            send(.failure("not a JSON request object with a \"cmd\" field: \(error)"), on: c)
            return true
        }
        if request.cmd == "watch" {
            streamWatch(on: c)
            return false
        }
        let box = ResultBox()
        let sem = DispatchSemaphore(value: 0)
        let handler = self.handler
        Task {
            box.value = await handler(request)
            sem.signal()
        }
        sem.wait()
        return send(box.value ?? .failure("internal error"), on: c)
    }

    private func streamWatch(on c: Int32) {
        let sem = DispatchSemaphore(value: 0)
        let watch = self.watch
        let task = Task {
            for await r in await watch() {
                var resp = ControlResponse(ok: true)
                resp.record = r
                if !self.send(resp, on: c) { break }
            }
            sem.signal()
        }
        // The client closing its end ends the watch.
        var b: UInt8 = 0
        while read(c, &b, 1) > 0 {}
        task.cancel()
        sem.wait()
    }

    @discardableResult
    private func send(_ r: ControlResponse, on c: Int32) -> Bool {
        guard var data = try? JSONEncoder().encode(r) else { return false }
        data.append(UInt8(ascii: "\n"))
        return data.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = write(c, p.baseAddress! + off, p.count - off)
                if n <= 0 { return false }
                off += n
            }
            return true
        }
    }
}

private final class ResultBox: @unchecked Sendable {
    // Written by one task before a semaphore signal, read after the wait: the semaphore orders the accesses.
    var value: ControlResponse?
}

/// The control socket could not be set up or reached.
public struct ControlError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
