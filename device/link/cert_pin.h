// The bridge's certificate as the node pins it: the SHA-256 of its DER, written as
// `openssl x509 -noout -fingerprint -sha256` prints it ("AB:CD:..."), so the operator can compare
// what the node logs with what `earshot-bridge pair` shows.
//
// Trust on first use: a node learns the fingerprint when it pairs (device/link/pairing_client.h),
// keeps it in its state directory, and from then on NodeLink refuses any other certificate before
// it sends its token.
#pragma once

#include <string>

struct lws;

namespace earshot::device {

// The fingerprint of the certificate the peer of `wsi` presented, or "" (no TLS, no certificate).
// Call it once the TLS handshake is done (e.g. in LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER).
std::string peer_certificate_fingerprint(lws* wsi);

// True when two fingerprints name the same certificate (case and separators aside).
bool same_fingerprint(const std::string& a, const std::string& b);

}  // namespace earshot::device
