import ArgumentParser
import BlueZ
import Crypto
import Foundation
import WardenController
import WardenKey
import WardenProtocol

/// `wardenctl phone unlock`: a phone built on WardenKey, over BLE (L2CAP CoC) or a development transport.
struct PhoneUnlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Present a credential with the key-presentation protocol; prints the result code and the time taken."
    )
    @Option(help: "The lock id (door's lock_id) this credential is meant for; the lock must prove it is this lock.")
    var lock: String
    @Option(help: "Credential file (JWS).") var credential: String
    @Option(help: "Holder private key file.") var key: String
    @Option(help: "Trusted authority key as KID=PUBLIC_PEM_FILE (repeatable).") var authority: [String]
    @Option(help: "Lock's Unix seqpacket development transport.") var unix: String?
    @Option(help: "Lock's TCP development transport, HOST:PORT.") var tcp: String?
    @Option(help: "Lock's BLE address (AA:BB:CC:DD:EE:FF).") var ble: String?
    @Option(help: "L2CAP PSM from the lock's advertisement: decimal (129) or hex (0x81).") var psm: String = "0x81"
    @Flag(help: "The BLE address is a random (not public) address.") var randomAddress = false

    func run() async throws {
        var keys: [String: P256.Signing.PublicKey] = [:]
        for a in authority {
            let p = a.split(separator: "=", maxSplits: 1)
            guard p.count == 2 else { throw ValidationError("--authority takes KID=PUBLIC_PEM_FILE, not '\(a)'") }
            keys[String(p[0])] = try KeyFiles.readPublic(String(p[1]))
        }
        let token = try KeyFiles.readText(credential)
        let holder = try KeyFiles.readPrivate(key)
        let channel: any FrameChannel
        switch (unix, tcp, ble) {
        case (let path?, nil, nil): channel = try SocketFrameChannel.connect(unix: path)
        case (nil, let hp?, nil):
            let parts = hp.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--tcp takes HOST:PORT") }
            channel = try SocketFrameChannel.connect(tcpHost: String(parts[0]), port: port)
        case (nil, nil, let addr?):
            guard let address = BluetoothAddress(addr) else {
                throw ValidationError("'\(addr)' is not a Bluetooth address")
            }
            let value = psm.lowercased().hasPrefix("0x") ? Int(psm.dropFirst(2), radix: 16) : Int(psm)
            guard let value, (0x80...0xFF).contains(value) else {
                throw ValidationError("--psm '\(psm)' must be 0x80-0xFF (128-255)")
            }
            channel = BLEFrameChannel(
                try await L2CAPConnector.connect(
                    to: address,
                    addressType: randomAddress ? .leRandom : .lePublic,
                    psm: UInt16(value)
                )
            )
        default:
            throw ValidationError("give exactly one of --unix, --tcp, --ble")
        }
        defer { channel.close() }
        let clock = ContinuousClock()
        let start = clock.now
        let key = PhoneKey(lockID: lock, credential: token, holder: holder, authority: keys)
        let presentation: PhoneKey.Presentation
        do {
            presentation = try await key.present(over: channel, now: UInt64(Date().timeIntervalSince1970))
        } catch let e as ProtocolError {
            print("\(e.code.name) (\(e.message)) after \(Self.ms(clock.now - start)) ms")
            throw ExitCode(4)
        } catch is ChannelClosed {
            print("the lock closed the connection after \(Self.ms(clock.now - start)) ms")
            throw ExitCode(4)
        }
        let o = presentation.outcome
        let bytes = presentation.bytes
        print(
            "\(o.code.name) in \(Self.ms(clock.now - start)) ms\(o.granted ? ", unlocked for \(o.unlockMillis) ms" : "") (\(bytes) bytes exchanged)"
        )
        if !o.granted { throw ExitCode(3) }
    }

    static func ms(_ d: Duration) -> String {
        String(format: "%.1f", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }
}
