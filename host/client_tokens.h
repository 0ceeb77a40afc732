// Client tokens: how a browser is let in. Nodes have a token in the config ([nodes]); a browser
// gets one from the operator, who runs `earshot-bridge tokens add NAME` on the bridge's machine
// and opens the URL it prints (`https://host:port/talk#token=...`: in the fragment, so the token
// never reaches a server log or a Referer header).
//
// A token is "NAME.SECRET" (SECRET: 32 random bytes in hex). The store keeps its SHA-256 only,
// with the name and when it was made and revoked. It admits a hello whose node_id is
// "browser-NAME" for the name it was made for, while it is not revoked. The bridge looks it up in
// the store on every hello, so `tokens add` and `tokens revoke` take effect at once, while the
// bridge runs, without a restart (the command opens the same SQLite file).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::host {

class Store;
struct BridgeConfig;

inline constexpr const char* kBrowserNodePrefix = "browser-";

// "" when `name` can name a client: 1-56 characters of [A-Za-z0-9._-] (its node_id,
// "browser-" + name, is a protocol id); otherwise what is wrong with it.
std::string client_name_problem(std::string_view name);

// Lower-case hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

// Makes a new token for `name` and stores its hash. nullopt and `*error` when the name is not
// valid, already has a live token, or the store fails.
std::optional<std::string> create_client_token(Store& store, const std::string& name,
                                               int64_t now_ms, std::string* error);

// The check the server's hello authentication calls: true when `token` is a live client token and
// `node_id` is "browser-" + the name it was made for. False without a store. Cheap: one indexed
// SQLite read.
bool client_token_admits(Store* store, std::string_view token, std::string_view node_id);

// `earshot-bridge tokens add NAME | list | revoke NAME`, on the store `config` names. `args` is
// what follows "tokens"; `url_host` the host name to print in the URL ("" = this machine's name,
// or server.listen when it is not a wildcard). Prints to stdout/stderr; returns the exit code
// (0 done, 1 the store failed or the name is unknown, 2 a wrong command line).
int run_tokens_command(const BridgeConfig& config, const std::vector<std::string>& args,
                       const std::string& url_host);

}  // namespace earshot::host
