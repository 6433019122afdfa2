import Foundation

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
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw ControlError("control socket path is too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw ControlError("cannot reach wardend at \(path): \(e); is wardend running (systemctl status wardend) and are you root?")
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
