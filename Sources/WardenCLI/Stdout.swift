import Foundation

/// Unbuffered line output for streaming commands (`watch`, `journal-stress`): a reader sees each line at once.
enum Stdout {
    static func line(_ s: String) {
        FileHandle.standardOutput.write(Data((s + "\n").utf8))
    }
}
