#include "host/pairing_desk.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>

#include "host/client_tokens.h"
#include "host/log.h"
#include "host/store/store.h"

namespace earshot::host {
namespace {

constexpr size_t kSecretBytes = 32;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "NODE_ID." + 64 hex digits, or "" when OpenSSL has no random bytes.
std::string new_token(const std::string& node_id) {
  unsigned char secret[kSecretBytes];
  if (RAND_bytes(secret, int(sizeof secret)) != 1) return "";
  static const char kDigits[] = "0123456789abcdef";
  std::string token = node_id + ".";
  for (unsigned char b : secret) {
    token += kDigits[b >> 4];
    token += kDigits[b & 15];
  }
  return token;
}

Refusal refused(const char* code, const std::string& message) {
  return Refusal{code, message, protocol::kClosePairingRefused};
}

}  // namespace

bool paired_node_admits(Store* store, std::string_view token, std::string_view node_id) {
  if (!store || token.empty() || token.size() > 1024) return false;
  const std::optional<std::string> hash = store->paired_node_token_sha256(std::string(node_id));
  return hash && *hash == sha256_hex(token);
}

int PairingDesk::open(int window_s, int64_t now_ms) {
  window_s = std::clamp(window_s, 1, kMaxWindowS);
  closes_at_ms_ = now_ms + int64_t(window_s) * 1000;
  wrong_codes_ = 0;
  LOG_INFO("pairing", "pairing window open for %d s", window_s);
  return window_s;
}

void PairingDesk::close() {
  if (closes_at_ms_ == 0) return;
  closes_at_ms_ = 0;
  LOG_INFO("pairing", "pairing window closed");
}

int PairingDesk::seconds_left(int64_t now_ms) const {
  return is_open(now_ms) ? int((closes_at_ms_ - now_ms + 999) / 1000) : 0;
}

std::optional<Refusal> PairingDesk::request(uint64_t conn, const protocol::PairRequest& r,
                                            const std::string& peer, int64_t now_ms) {
  const char* id = r.node_id.c_str();
  std::optional<Refusal> refusal;
  if (!protocol::negotiate_version(r.versions)) {
    refusal = Refusal{"unsupported_version",
                      "no protocol version in common: this bridge speaks version " +
                          std::to_string(protocol::kProtocolVersion),
                      protocol::kCloseBadVersion};
  } else if (!is_open(now_ms)) {
    refusal = refused("pairing_closed",
                      "no pairing window is open: run `earshot-bridge pair` on the bridge");
  } else if (std::find(configured_nodes_.begin(), configured_nodes_.end(), r.node_id) !=
                 configured_nodes_.end() ||
             (store_ && store_->paired_node_token_sha256(r.node_id))) {
    refusal =
        refused("already_paired", "node '" + r.node_id +
                                      "' already has a token on this bridge (unpair it first: "
                                      "`earshot-bridge pair remove " +
                                      r.node_id + "`)");
  } else if (store_ && store_->pairing_code_used(r.code)) {
    refusal = refused("code_used",
                      "this pairing code was used before; restart the node for a new "
                      "one");
  } else if (std::any_of(pending_.begin(), pending_.end(), [&](const Pending& p) {
               return p.request.node_id == r.node_id || p.request.code == r.code;
             })) {
    refusal =
        refused("duplicate_request", "another node is already waiting with this node id or code");
  } else if (pending_.size() >= kMaxPending) {
    refusal = refused("too_many_requests", "too many nodes are waiting to pair");
  } else if (!store_) {
    refusal = refused("no_store", "this bridge has no store to keep paired nodes in");
  }
  if (refusal) {
    LOG_WARN("pairing", "refused a pairing request from '%s' (%s): %s", id, peer.c_str(),
             refusal->message.c_str());
    return refusal;
  }
  pending_.push_back({conn, r, peer, now_ms});
  LOG_INFO("pairing",
           "node '%s'%s%s (%s) asks to pair: confirm the code it shows with `earshot-bridge pair`",
           id, r.room ? " in " : "", r.room.value_or("").c_str(), peer.c_str());
  return std::nullopt;
}

void PairingDesk::withdraw(uint64_t conn) {
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const Pending& p) { return p.conn == conn; }),
                 pending_.end());
}

PairingDesk::Confirmation PairingDesk::confirm(const std::string& code, int64_t now_ms) {
  Confirmation c;
  auto refuse = [&](int status, const std::string& message) {
    c.http_status = status;
    c.message = message;
    LOG_WARN("pairing", "refused a confirmation: %s", message.c_str());
    return c;
  };
  if (!is_open(now_ms)) return refuse(409, "no pairing window is open");
  if (!protocol::is_valid_pairing_code(code)) return refuse(403, "a code is 6 digits");
  if (store_ && store_->pairing_code_used(code))
    return refuse(403, "this code was used before: nothing paired");
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.request.code == code; });
  if (it == pending_.end()) {
    if (++wrong_codes_ >= kMaxWrongCodes) {
      close();
      return refuse(403, "no waiting node shows this code; " + std::to_string(kMaxWrongCodes) +
                             " wrong codes: the window is closed");
    }
    return refuse(403, "no waiting node shows this code: nothing paired");
  }
  const Pending p = *it;
  const std::string token = new_token(p.request.node_id);
  if (token.empty()) return refuse(500, "no random bytes from OpenSSL");
  PairedNodeRecord record;
  record.node_id = p.request.node_id;
  record.token_sha256 = sha256_hex(token);
  record.code = code;
  record.peer = p.peer;
  record.paired_at_ms = wall_ms();
  std::string error;
  if (!store_ || !store_->add_paired_node(record, &error))
    return refuse(500, "cannot store the paired node: " + error);
  pending_.erase(it);
  c.ok = true;
  c.conn = p.conn;
  c.paired = {p.request.node_id, token};
  c.message = "paired node '" + p.request.node_id + "' (" + p.peer + ")";
  LOG_INFO("pairing", "%s; its token is stored hashed", c.message.c_str());
  return c;
}

std::vector<uint64_t> PairingDesk::expire(int64_t now_ms) {
  std::vector<uint64_t> out;
  if (is_open(now_ms) || pending_.empty()) return out;
  for (const Pending& p : pending_) {
    LOG_WARN("pairing", "the pairing window closed before node '%s' (%s) was confirmed",
             p.request.node_id.c_str(), p.peer.c_str());
    out.push_back(p.conn);
  }
  pending_.clear();
  return out;
}

std::vector<PairingDesk::Waiting> PairingDesk::waiting() const {
  std::vector<Waiting> out;
  for (const Pending& p : pending_)
    out.push_back({p.request.node_id, p.request.room.value_or(""), p.peer, p.since_ms});
  return out;
}

}  // namespace earshot::host
