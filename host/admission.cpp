#include "host/admission.h"

#include <cstdlib>

#include "host/client_tokens.h"
#include "host/doors/xiaozhi_ota.h"
#include "protocol/xiaozhi/binary.h"

namespace earshot::host {

std::optional<Refusal> check_hello_terms(const protocol::Hello& hello) {
  if (!protocol::negotiate_version(hello.versions)) {
    return Refusal{"unsupported_version",
                   "no protocol version in common: this bridge speaks version " +
                       std::to_string(protocol::kProtocolVersion),
                   protocol::kCloseBadVersion};
  }
  const protocol::AudioParams& a = hello.audio;
  if ((a.codec != protocol::kCodecOpus && a.codec != protocol::kCodecPcm16) ||
      a.sample_rate != 16000 || a.channels != 1 ||
      (a.frame_ms != 20 && a.frame_ms != 40 && a.frame_ms != 60)) {
    return Refusal{"unsupported_audio",
                   "this bridge takes Opus or pcm16 at 16000 Hz, mono, 20-60 ms frames; got " +
                       a.codec + " " + std::to_string(a.sample_rate) + " Hz " +
                       std::to_string(a.channels) + " ch " + std::to_string(a.frame_ms) + " ms",
                   protocol::kCloseBadAudio};
  }
  return std::nullopt;
}

std::string bearer_token(const std::string& authorization) {
  return authorization.rfind("Bearer ", 0) == 0 ? authorization.substr(7) : std::string();
}

bool Authenticator::admits_node(const std::string& token, const std::string& node_id) const {
  if (config_.allow_anonymous) return true;
  if (token.empty()) return false;
  if (auto it = config_.node_tokens.find(node_id);
      it != config_.node_tokens.end() && it->second == token)
    return true;
  if (!config_.shared_token.empty() && token == config_.shared_token) return true;
  return client_token_admits(store_, token, node_id);  // browsers
}

std::optional<std::string> Authenticator::admits_any(const std::string& token) const {
  if (!token.empty() && !config_.shared_token.empty() && token == config_.shared_token)
    return "the shared token";
  for (const auto& [node, node_token] : config_.node_tokens)
    if (!token.empty() && token == node_token) return "the token of node '" + node + "'";
  if (config_.allow_anonymous) return "anonymous";
  return std::nullopt;
}

std::variant<XiaozhiTerms, Refusal> check_xiaozhi_terms(const std::string& device_id,
                                                        const std::string& protocol_version,
                                                        const std::string& token,
                                                        const Authenticator& auth) {
  XiaozhiTerms terms;
  terms.node_id = xiaozhi_node_id(device_id);
  if (terms.node_id.empty())
    return Refusal{"bad_device",
                   "a Device-Id header with the box's MAC address is required, got '" +
                       device_id.substr(0, 64) + "'",
                   protocol::kCloseUnauthorized};
  terms.version = protocol_version.empty() ? 1 : atoi(protocol_version.c_str());
  if (!protocol::xiaozhi::is_supported_version(terms.version) ||
      protocol_version.find_first_not_of("0123456789") != std::string::npos)
    return Refusal{"unsupported_version",
                   "binary protocol version '" + protocol_version.substr(0, 16) +
                       "' is not supported: this bridge speaks 1, 2 and 3",
                   protocol::kCloseBadVersion};
  if (!auth.admits_node(token, terms.node_id))
    return Refusal{"bad_token",
                   token.empty()
                       ? "box " + device_id +
                             " sent no token: point its OTA URL at this "
                             "bridge"
                       : "the token is not valid for box " + device_id + " (" + terms.node_id + ")",
                   protocol::kCloseUnauthorized};
  return terms;
}

}  // namespace earshot::host
