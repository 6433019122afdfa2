/// D-Bus type characters for the non-variadic sd-bus append/read calls.
enum DBusType {
    static let string = CChar(UInt8(ascii: "s"))
    static let objectPath = CChar(UInt8(ascii: "o"))
    static let boolean = CChar(UInt8(ascii: "b"))
    static let byte = CChar(UInt8(ascii: "y"))
    static let array = CChar(UInt8(ascii: "a"))
    static let variant = CChar(UInt8(ascii: "v"))
    static let dictEntry = CChar(UInt8(ascii: "e"))
}
