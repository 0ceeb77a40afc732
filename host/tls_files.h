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

}  // namespace earshot::host
