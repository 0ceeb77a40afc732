// The bridge's certificate and key, checked before anything listens: each file exists, can be
// read and holds PEM that OpenSSL loads, and the key belongs to the certificate.
// BridgeServer::start and earshot-bridge --check both ask, so a bad file is named rather than
// guessed at (lws only says that its context failed, as it also does for a port in use).
#pragma once

#include <string>

namespace earshot::host {

// "" when both load and match; else one sentence naming the file and what is wrong with it, e.g.
// "TLS certificate '/etc/earshot/bridge.crt': No such file or directory".
std::string check_tls_files(const std::string& cert_path, const std::string& key_path);

// The SHA-256 fingerprint of the certificate in `cert_path` (its DER), as
// `openssl x509 -noout -fingerprint -sha256` prints it: "AB:CD:...", or "" if it cannot be read.
// Nodes pin it when they pair (trust on first use); the operator compares the two.
std::string certificate_fingerprint(const std::string& cert_path);

}  // namespace earshot::host
