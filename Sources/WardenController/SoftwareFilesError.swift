/// A command kind that no root helper takes was handed over: a programming error, named so it can be found.
public enum SoftwareFilesError: Error, CustomStringConvertible {
    case noHelper(String)

    public var description: String {
        switch self {
        case .noHelper(let kind): "no helper takes '\(kind)' commands; wardend carries them out itself"
        }
    }
}
