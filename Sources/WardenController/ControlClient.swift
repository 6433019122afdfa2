import Foundation
import POSIXIO

#if canImport(Glibc)
import Glibc
#endif

/// `wardenctl`'s side of the control socket.
public final class ControlClient {
    private let fd: Int32
    private var buffer: [UInt8] = []

    public init(path: String) throws(ControlError) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ControlError("socket: \(String(cString: strerror(errno)))") }
        let addr: sockaddr_un
        do { addr = try UnixSocketAddress.make(path) } catch {
            close(fd)
            throw ControlError(error.message)
        }
        let rc = UnixSocketAddress.with(addr) { connect(fd, $0, $1) }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw ControlError(
                "cannot reach wardend at \(path): \(e); is wardend running (systemctl status wardend) and are you root?"
            )
        }
        self.fd = fd
    }

    deinit { close(fd) }

    public func call(_ request: ControlRequest) throws(ControlError) -> ControlResponse {
        try send(request)
        return try receive()
    }

    public func send(_ request: ControlRequest) throws(ControlError) {
        guard var data = try? JSONEncoder().encode(request) else { throw ControlError("cannot encode request") }
        data.append(UInt8(ascii: "\n"))
        let ok = data.withUnsafeBytes { p -> Bool in
            var off = 0
            while off < p.count {
                let n = write(fd, p.baseAddress! + off, p.count - off)
                if n <= 0 { return false }
                off += n
            }
            return true
        }
        guard ok else { throw ControlError("wardend closed the control connection") }
    }

    public func receive() throws(ControlError) -> ControlResponse {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(buffer[..<nl])
                buffer.removeSubrange(...nl)
                guard let r = try? JSONDecoder().decode(ControlResponse.self, from: line) else {
                    throw ControlError("wardend sent an unreadable response")
                }
                return r
            }
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { throw ControlError("wardend closed the control connection") }
            buffer += chunk[..<n]
        }
    }
}
