import Testing
import WardenProtocol

@Suite struct FrameReassemblerTests {
    let a = Frame(.hello, [UInt8](repeating: 1, count: 83)).bytes
    let b = Frame(.present, [UInt8](repeating: 2, count: 600)).bytes

    @Test func splitAndJoinedFramesComeOutWhole() throws {
        var r = FrameReassembler()
        let stream = a + b
        for chunk in stride(from: 0, to: stream.count, by: 97).map({ Array(stream[$0..<min(stream.count, $0 + 97)]) }) {
            r.append(chunk)
        }
        #expect(try r.next() == a)
        #expect(try r.next() == b)
        #expect(try r.next() == nil)
        r.append(a.prefix(2))
        #expect(try r.next() == nil, "half a header is not a frame")
    }

    @Test func oversizedHeaderIsRefused() {
        var r = FrameReassembler()
        r.append([0x03, 0xFF, 0xFF])
        #expect(throws: ProtocolError.self) { try r.next() }
    }
}
