#include "host/tls_files.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace earshot::host {
namespace {

// "" if `path` is a file this process can read.
std::string unreadable(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || access(path.c_str(), R_OK) != 0) return strerror(errno);
  if (S_ISDIR(st.st_mode)) return "a directory, not a file";
  return "";
}

// OpenSSL's reason for the failure, e.g. "no start line" for a file that is not PEM.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_error();  // the first: the cause, not the wrappers
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown error";
}

// An encrypted key would make OpenSSL ask for its passphrase on the terminal; the bridge runs
// unattended, so it gets none and the key fails to load with a message saying so.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

}  // namespace

std::string check_tls_files(const std::string& cert_path, const std::string& key_path) {
  const std::string cert = "TLS certificate '" + cert_path + "'";
  const std::string key = "TLS key '" + key_path + "'";
  if (std::string why = unreadable(cert_path); !why.empty()) return cert + ": " + why;
  if (std::string why = unreadable(key_path); !why.empty()) return key + ": " + why;
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return "cannot check the TLS files: OpenSSL: " + openssl_reason();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_path.c_str()) != 1)
    return cert + " is not a PEM certificate: " + openssl_reason();
  // The key on its own first: with a certificate loaded, OpenSSL's own loader reports a key that
  // does not match it in the same way as one it cannot read.
  std::unique_ptr<BIO, int (*)(BIO*)> file(BIO_new_file(key_path.c_str(), "r"), BIO_free);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey(
      file ? PEM_read_bio_PrivateKey(file.get(), nullptr, no_passphrase, nullptr) : nullptr,
      EVP_PKEY_free);
  if (!pkey) return key + " is not a PEM private key (or is encrypted): " + openssl_reason();
  if (SSL_CTX_use_PrivateKey(ctx.get(), pkey.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1)
    return key + " does not belong to " + cert + ": " + openssl_reason();
  return "";
}

std::string certificate_fingerprint(const std::string& cert_path) {
  FILE* f = fopen(cert_path.c_str(), "r");
  if (!f) return "";
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
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

}  // namespace earshot::host
