import Foundation

/// A certificate authority made for one test with openssl: its certificate, and a server certificate for 127.0.0.1
/// that a TLS listener presents (the client checks both the chain and the address).
public struct TestCA: Sendable {
    public let caFile: String
    public let serverCertFile: String
    public let serverKeyFile: String

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init(in directory: URL, name: String) throws {
        func path(_ f: String) -> String { directory.appendingPathComponent("\(name)-\(f)").path }
        caFile = path("ca.pem")
        serverCertFile = path("server.pem")
        serverKeyFile = path("server.key")
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: path("san.ext"), atomically: true, encoding: .utf8)
        for args in [
            ["req", "-x509"] + ec + [
                "-keyout", path("ca.key"), "-out", caFile, "-days", "2", "-subj", "/CN=\(name) CA",
            ],
            ["req"] + ec + ["-keyout", serverKeyFile, "-out", path("server.csr"), "-subj", "/CN=127.0.0.1"],
            [
                "x509", "-req", "-in", path("server.csr"), "-CA", caFile, "-CAkey", path("ca.key"), "-CAcreateserial",
                "-out", serverCertFile, "-days", "2", "-extfile", path("san.ext"),
            ],
        ] {
            let (code, out) = Command.run("/usr/bin/openssl", args)
            guard code == 0 else { throw Failure(description: "openssl \(args[0]) failed: \(out)") }
        }
        // mosquitto reads them after dropping root privileges: readable whatever umask another test thread had set
        // while openssl ran.
        for f in [caFile, serverCertFile, serverKeyFile] { chmod(f, 0o644) }
    }
}
