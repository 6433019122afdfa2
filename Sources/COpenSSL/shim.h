// OpenSSL's libcrypto, for the X.509 parts wardend needs (docs/architecture.md): libmosquitto already maps it into
// the process, so reading a certificate and writing a CSR costs no memory a second X.509 library would.
#ifndef WARDEN_COPENSSL_SHIM_H
#define WARDEN_COPENSSL_SHIM_H
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

// Macros Swift does not import.
static inline int warden_mbstring_utf8(void) { return MBSTRING_UTF8; }
#endif
