import Foundation
import Synchronization

/// Lines from many boards' tasks into one file.
final class FleetLog: Sendable {
    private let handle: Mutex<FileHandle>
    init(_ handle: FileHandle) { self.handle = Mutex(handle) }
    func write(_ line: String) { handle.withLock { $0.write(Data(line.utf8)) } }
}
