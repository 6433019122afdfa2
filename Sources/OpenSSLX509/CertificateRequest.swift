import COpenSSL

/// A PKCS#10 certificate signing request for a P-256 key, written by OpenSSL (see `PEMCertificate` for why not
/// swift-certificates on the board).
public enum CertificateRequest {
    /// PEM of a request with subject `CN=commonName`, signed (ECDSA with SHA-256) by the key in `privateKeyDER`
    /// (PKCS#8, as swift-crypto's `P256.Signing.PrivateKey.derRepresentation`).
    public static func pem(commonName: String, privateKeyDER: [UInt8]) throws(OpenSSLError) -> String {
        let key = privateKeyDER.withUnsafeBufferPointer { buf -> OpaquePointer? in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_AutoPrivateKey(nil, &p, buf.count)
        }
        guard let key else { throw OpenSSLError("the private key is not PKCS#8 DER") }
        defer { EVP_PKEY_free(key) }
        guard let request = X509_REQ_new() else { throw OpenSSLError("cannot allocate a request") }
        defer { X509_REQ_free(request) }
        guard let name = X509_NAME_new() else { throw OpenSSLError("cannot allocate a name") }
        defer { X509_NAME_free(name) }
        let cn = Array(commonName.utf8)
        guard !cn.isEmpty,
            X509_NAME_add_entry_by_txt(name, "CN", warden_mbstring_utf8(), cn, Int32(cn.count), -1, 0) == 1,
            X509_REQ_set_version(request, 0) == 1,  // v1
            X509_REQ_set_subject_name(request, name) == 1,
            X509_REQ_set_pubkey(request, key) == 1
        else { throw OpenSSLError("cannot build the request for CN=\(commonName)") }
        guard X509_REQ_sign(request, key, EVP_sha256()) > 0 else { throw OpenSSLError("cannot sign the request") }
        return try MemoryBIO.written { PEM_write_bio_X509_REQ($0, request) == 1 }
    }
}
