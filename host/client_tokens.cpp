#include "host/client_tokens.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "host/bridge_config.h"
#include "host/store/store.h"
#include "protocol/messages.h"

namespace earshot::host {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kMaxNameLength = protocol::kMaxIdLength - 8;  // "browser-" + name is an id

std::string hex(const unsigned char* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string date(int64_t ms) {
  const time_t t = time_t(ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%d %H:%M", &local);
  return text;
}

// The host name a browser on the network would use for this bridge.
std::string default_url_host(const BridgeConfig& config) {
  const std::string& listen = config.server.listen;
  if (!listen.empty() && listen != "0.0.0.0" && listen != "::") return listen;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && name[0]) return name;
  return "localhost";
}

std::unique_ptr<Store> open_store(const BridgeConfig& config) {
  if (config.store_path.empty()) {
    fprintf(stderr,
            "earshot-bridge: tokens: client tokens live in the store; store.path is \"\"\n");
    return nullptr;
  }
  std::string error;
  std::unique_ptr<Store> store = Store::open(config.store_path, {}, &error);
  if (!store) fprintf(stderr, "earshot-bridge: tokens: store: %s\n", error.c_str());
  return store;
}

int usage() {
  fprintf(stderr,
          "usage: earshot-bridge [--config FILE] tokens add NAME [--url-host HOST]\n"
          "       earshot-bridge [--config FILE] tokens list\n"
          "       earshot-bridge [--config FILE] tokens revoke NAME\n");
  return 2;
}

}  // namespace

std::string client_name_problem(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || !protocol::is_valid_id(name))
    return "a client name is 1-" + std::to_string(kMaxNameLength) + " characters of [A-Za-z0-9._-]";
  return "";
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1) return "";
  return hex(digest, size);
}

std::optional<std::string> create_client_token(Store& store, const std::string& name,
                                               int64_t now_ms, std::string* error) {
  if (std::string problem = client_name_problem(name); !problem.empty()) {
    *error = problem;
    return std::nullopt;
  }
  unsigned char secret[kSecretBytes];
  if (RAND_bytes(secret, int(sizeof secret)) != 1) {
    *error = "no random bytes from OpenSSL";
    return std::nullopt;
  }
  const std::string token = name + "." + hex(secret, sizeof secret);
  ClientTokenRecord record;
  record.name = name;
  record.token_sha256 = sha256_hex(token);
  record.created_at_ms = now_ms;
  if (record.token_sha256.empty()) {
    *error = "SHA-256 failed";
    return std::nullopt;
  }
  if (!store.add_client_token(record, error)) return std::nullopt;
  return token;
}

bool client_token_admits(Store* store, std::string_view token, std::string_view node_id) {
  if (!store || token.empty() || token.size() > 1024) return false;
  const size_t dot = token.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  // The name in the token is only a hint for the client; the stored name decides.
  const std::optional<std::string> name = store->live_client_token_name(sha256_hex(token));
  return name && node_id == kBrowserNodePrefix + *name;
}

int run_tokens_command(const BridgeConfig& config, const std::vector<std::string>& args,
                       const std::string& url_host) {
  if (args.empty()) return usage();
  const std::string& verb = args[0];
  if (verb == "add" && args.size() == 2) {
    if (std::string problem = client_name_problem(args[1]); !problem.empty()) {
      fprintf(stderr, "earshot-bridge: tokens add: %s\n", problem.c_str());
      return 2;
    }
    std::unique_ptr<Store> store = open_store(config);
    if (!store) return 1;
    std::string error;
    const std::optional<std::string> token =
        create_client_token(*store, args[1], wall_ms(), &error);
    if (!token) {
      fprintf(stderr, "earshot-bridge: tokens add: %s\n", error.c_str());
      return 1;
    }
    const bool tls = !config.server.tls_cert.empty();
    const std::string host = url_host.empty() ? default_url_host(config) : url_host;
    printf("client:  %s (node id %s%s)\n", args[1].c_str(), kBrowserNodePrefix, args[1].c_str());
    printf("token:   %s\n", token->c_str());
    printf("open:    %s://%s:%d/talk#token=%s\n", tls ? "https" : "http", host.c_str(),
           config.server.port, token->c_str());
    if (!tls)
      printf(
          "note:    without server.tls_cert a browser grants the microphone only on this machine "
          "(http://localhost:%d/talk#token=...); give the bridge a certificate for others\n",
          config.server.port);
    printf("The token is shown once; the store keeps only its hash.\n");
    return 0;
  }
  if (verb == "list" && args.size() == 1) {
    std::unique_ptr<Store> store = open_store(config);
    if (!store) return 1;
    const std::vector<ClientTokenRecord> tokens = store->client_tokens();
    if (tokens.empty()) printf("no client tokens\n");
    for (const ClientTokenRecord& t : tokens)
      printf("%-24s created %s  %s\n", t.name.c_str(), date(t.created_at_ms).c_str(),
             t.revoked_at_ms ? ("revoked " + date(t.revoked_at_ms)).c_str() : "live");
    return 0;
  }
  if (verb == "revoke" && args.size() == 2) {
    std::unique_ptr<Store> store = open_store(config);
    if (!store) return 1;
    std::string error;
    if (!store->revoke_client_token(args[1], wall_ms(), &error)) {
      fprintf(stderr, "earshot-bridge: tokens revoke: %s\n", error.c_str());
      return 1;
    }
    printf("revoked the token of %s; a browser using it is refused from its next connection\n",
           args[1].c_str());
    return 0;
  }
  return usage();
}

}  // namespace earshot::host
