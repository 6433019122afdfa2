import Foundation

enum Hex {
    static func encode(_ b: some Sequence<UInt8>) -> String { b.map { String(format: "%02x", $0) }.joined() }
    static func decode(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }
}
