import Crypto
import Foundation
import SwiftASN1
import X509

/// An X.509 v2 certificate revocation list (RFC 5280 section 5), which swift-certificates does not build: the
/// TBSCertList in DER, signed ECDSA-SHA256 by the device CA. mosquitto (OpenSSL) reads it as the listener's
/// `crlfile`; the tests check it with `openssl crl -verify` and against the real broker.
struct RevocationList {
    var issuer: DistinguishedName
    var authorityKeyID: [UInt8]
    var thisUpdate: Date
    var nextUpdate: Date
    var number: Int64
    var revoked: [(serial: [UInt8], at: Date)]

    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
    static let crlNumber: ASN1ObjectIdentifier = [2, 5, 29, 20]
    static let authorityKeyIdentifier: ASN1ObjectIdentifier = [2, 5, 29, 35]

    func signed(with key: P256.Signing.PrivateKey) throws -> [UInt8] {
        var tbs = DER.Serializer()
        try tbs.appendConstructedNode(identifier: .sequence) { s in
            try s.serialize(1)  // v2
            try Self.algorithm(&s)
            try s.serialize(issuer)
            try Self.time(thisUpdate, &s)
            try Self.time(nextUpdate, &s)
            if !revoked.isEmpty {
                try s.appendConstructedNode(identifier: .sequence) { list in
                    for entry in revoked {
                        try list.appendConstructedNode(identifier: .sequence) { e in
                            try e.serialize(ArraySlice(entry.serial))
                            try Self.time(entry.at, &e)
                        }
                    }
                }
            }
            try s.appendConstructedNode(identifier: .init(tagWithNumber: 0, tagClass: .contextSpecific)) { x in
                try x.appendConstructedNode(identifier: .sequence) { exts in
                    try Self.extensionNode(Self.crlNumber, &exts) { v in try v.serialize(number) }
                    try Self.extensionNode(Self.authorityKeyIdentifier, &exts) { v in
                        v.appendConstructedNode(identifier: .sequence) { aki in
                            aki.appendPrimitiveNode(identifier: .init(tagWithNumber: 0, tagClass: .contextSpecific)) {
                                $0.append(contentsOf: authorityKeyID)
                            }
                        }
                    }
                }
            }
        }
        let tbsBytes = tbs.serializedBytes
        let signature = try key.signature(for: tbsBytes).derRepresentation
        var out = DER.Serializer()
        try out.appendConstructedNode(identifier: .sequence) { s in
            s.serializeRawBytes(tbsBytes)
            try Self.algorithm(&s)
            try s.serialize(ASN1BitString(bytes: ArraySlice(signature)))
        }
        return out.serializedBytes
    }

    static func algorithm(_ s: inout DER.Serializer) throws {
        try s.appendConstructedNode(identifier: .sequence) { try $0.serialize(ecdsaWithSHA256) }
    }

    /// UTCTime through 2049 and GeneralizedTime after, as RFC 5280 section 5.1.2.4 asks.
    static func time(_ date: Date, _ s: inout DER.Serializer) throws {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        let (y, mo, d, h, mi, se) = (c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
        if y < 2050 {
            try s.serialize(UTCTime(year: y, month: mo, day: d, hours: h, minutes: mi, seconds: se))
        } else {
            try s.serialize(
                GeneralizedTime(year: y, month: mo, day: d, hours: h, minutes: mi, seconds: se, fractionalSeconds: 0)
            )
        }
    }

    /// Extension ::= SEQUENCE { extnID, extnValue OCTET STRING } (non-critical: the default is left out).
    static func extensionNode(
        _ oid: ASN1ObjectIdentifier,
        _ s: inout DER.Serializer,
        value: (inout DER.Serializer) throws -> Void
    ) throws {
        var inner = DER.Serializer()
        try value(&inner)
        try s.appendConstructedNode(identifier: .sequence) { e in
            try e.serialize(oid)
            try e.serialize(ASN1OctetString(contentBytes: ArraySlice(inner.serializedBytes)))
        }
    }
}
