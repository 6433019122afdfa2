/// Message types of protocol version 1.
public enum FrameType: UInt8, Sendable, CaseIterable {
    case hello = 0x01
    case lockHello = 0x02
    case present = 0x03
    case result = 0x04
    case error = 0x7F
}
