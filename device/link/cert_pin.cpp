#include "device/link/cert_pin.h"

#include <libwebsockets.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cctype>

namespace earshot::device {
namespace {

std::string hex_digits_only(const std::string& s) {
  std::string out;
  for (char c : s)
    if (isxdigit(static_cast<unsigned char>(c)))
      out += char(toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string peer_certificate_fingerprint(lws* wsi) {
  SSL* ssl = lws_get_ssl(wsi);
  if (!ssl) return "";
  X509* cert = SSL_get_peer_certificate(ssl);
  if (!cert) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const bool ok = X509_digest(cert, EVP_sha256(), digest, &size) == 1;
  X509_free(cert);
  if (!ok) return "";
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    if (i) out += ':';
    out += kDigits[digest[i] >> 4];
    out += kDigits[digest[i] & 15];
  }
  return out;
}

bool same_fingerprint(const std::string& a, const std::string& b) {
  const std::string x = hex_digits_only(a);
  return !x.empty() && x == hex_digits_only(b);
}

}  // namespace earshot::device
