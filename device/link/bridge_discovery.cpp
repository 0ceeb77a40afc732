#include "device/link/bridge_discovery.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/address.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/strlst.h>
#include <dlfcn.h>

#include <chrono>

namespace earshot::device {
namespace {

constexpr const char* kServiceType = "_earshot._tcp";

// libavahi-client's functions (and libavahi-common's, which it loads), resolved at first use.
struct AvahiApi {
  decltype(&avahi_simple_poll_new) simple_poll_new;
  decltype(&avahi_simple_poll_get) simple_poll_get;
  decltype(&avahi_simple_poll_iterate) simple_poll_iterate;
  decltype(&avahi_simple_poll_free) simple_poll_free;
  decltype(&avahi_client_new) client_new;
  decltype(&avahi_client_free) client_free;
  decltype(&avahi_client_errno) client_errno;
  decltype(&avahi_strerror) strerror;
  decltype(&avahi_service_browser_new) browser_new;
  decltype(&avahi_service_browser_free) browser_free;
  decltype(&avahi_service_resolver_new) resolver_new;
  decltype(&avahi_service_resolver_free) resolver_free;
  decltype(&avahi_address_snprint) address_snprint;
  decltype(&avahi_string_list_find) string_list_find;
  decltype(&avahi_string_list_get_pair) string_list_get_pair;
  decltype(&avahi_free) free;
};

// Loads libavahi-client (and, through it, libavahi-common and libdbus) and resolves every function;
// closed again once discovery is done, so the node that found its bridge does not keep ~1 MB of
// D-Bus and Avahi mapped for the months it runs.
class AvahiLibrary {
 public:
  AvahiLibrary() {
    handle_ = dlopen("libavahi-client.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      error_ = std::string("cannot load libavahi-client.so.3: ") + dlerror();
      return;
    }
    get(&api_.simple_poll_new, "avahi_simple_poll_new");
    get(&api_.simple_poll_get, "avahi_simple_poll_get");
    get(&api_.simple_poll_iterate, "avahi_simple_poll_iterate");
    get(&api_.simple_poll_free, "avahi_simple_poll_free");
    get(&api_.client_new, "avahi_client_new");
    get(&api_.client_free, "avahi_client_free");
    get(&api_.client_errno, "avahi_client_errno");
    get(&api_.strerror, "avahi_strerror");
    get(&api_.browser_new, "avahi_service_browser_new");
    get(&api_.browser_free, "avahi_service_browser_free");
    get(&api_.resolver_new, "avahi_service_resolver_new");
    get(&api_.resolver_free, "avahi_service_resolver_free");
    get(&api_.address_snprint, "avahi_address_snprint");
    get(&api_.string_list_find, "avahi_string_list_find");
    get(&api_.string_list_get_pair, "avahi_string_list_get_pair");
    get(&api_.free, "avahi_free");
  }
  ~AvahiLibrary() {
#if !defined(__SANITIZE_ADDRESS__)
    if (handle_) dlclose(handle_);
#else
    // Under LeakSanitizer, kept loaded: libdbus (which libavahi-client brings) keeps allocations
    // for the process's life, and once unloaded they are reported as leaks from an unknown
    // module that no suppression can name (tools/lsan.supp names libdbus-1 and Avahi).
#endif
  }
  AvahiLibrary(const AvahiLibrary&) = delete;
  AvahiLibrary& operator=(const AvahiLibrary&) = delete;
  // Every function, or nullptr with `*error` saying what is missing.
  const AvahiApi* api(std::string* error) const {
    if (error_.empty()) return &api_;
    *error = error_;
    return nullptr;
  }

 private:
  template <typename F>
  void get(F* out, const char* name) {
    void* p = dlsym(handle_, name);  // also finds libavahi-common's, a dependency of this one
    if (!p && error_.empty()) error_ = std::string("libavahi-client has no ") + name;
    *out = reinterpret_cast<F>(p);
  }
  void* handle_ = nullptr;
  AvahiApi api_{};
  std::string error_;
};

struct Search {
  const AvahiApi* api = nullptr;
  AvahiClient* client = nullptr;
  std::optional<DiscoveredBridge> found;
  std::string failure;  // the daemon went away, or the browse failed

  // The value of TXT record `key`, or "".
  std::string txt(AvahiStringList* list, const char* key) const {
    AvahiStringList* item = api->string_list_find(list, key);
    if (!item) return "";
    char* k = nullptr;
    char* v = nullptr;
    if (api->string_list_get_pair(item, &k, &v, nullptr) < 0) return "";
    std::string value = v ? v : "";
    api->free(k);
    api->free(v);
    return value;
  }

  static void on_resolved(AvahiServiceResolver* r, AvahiIfIndex, AvahiProtocol,
                          AvahiResolverEvent event, const char* name, const char*, const char*,
                          const char*, const AvahiAddress* address, uint16_t port,
                          AvahiStringList* txt_records, AvahiLookupResultFlags, void* self_) {
    auto* self = static_cast<Search*>(self_);
    if (event == AVAHI_RESOLVER_FOUND && !self->found && address) {
      char text[AVAHI_ADDRESS_STR_MAX] = {};
      self->api->address_snprint(text, sizeof text, address);
      DiscoveredBridge b;
      b.name = name ? name : "";
      b.tls = self->txt(txt_records, "tls") == "1";
      std::string path = self->txt(txt_records, "path");
      if (path.empty() || path[0] != '/') path = "/";
      b.url = std::string(b.tls ? "wss://" : "ws://") + text + ":" + std::to_string(port) + path;
      self->found = b;
    }
    self->api->resolver_free(r);
  }

  static void on_browse(AvahiServiceBrowser*, AvahiIfIndex interface, AvahiProtocol protocol,
                        AvahiBrowserEvent event, const char* name, const char* type,
                        const char* domain, AvahiLookupResultFlags, void* self_) {
    auto* self = static_cast<Search*>(self_);
    if (event == AVAHI_BROWSER_FAILURE) {
      self->failure = std::string("browsing failed: ") +
                      self->api->strerror(self->api->client_errno(self->client));
      return;
    }
    if (event != AVAHI_BROWSER_NEW || self->found) return;
    // IPv4: an IPv6 link-local address would need its interface in the URL.
    self->api->resolver_new(self->client, interface, protocol, name, type, domain, AVAHI_PROTO_INET,
                            AvahiLookupFlags(0), &Search::on_resolved, self);
  }

  static void on_client(AvahiClient*, AvahiClientState state, void* self_) {
    auto* self = static_cast<Search*>(self_);
    if (state == AVAHI_CLIENT_FAILURE) self->failure = "the avahi-daemon connection failed";
  }
};

}  // namespace

std::optional<DiscoveredBridge> discover_bridge(int timeout_ms, const std::atomic<bool>& stop,
                                                std::string* error) {
  const AvahiLibrary library;  // closed on return, after everything below is freed
  const AvahiApi* api = library.api(error);
  if (!api) return std::nullopt;
  AvahiSimplePoll* poll = api->simple_poll_new();
  if (!poll) {
    *error = "cannot create an Avahi poll";
    return std::nullopt;
  }
  Search search;
  search.api = api;
  int status = 0;
  search.client = api->client_new(api->simple_poll_get(poll), AvahiClientFlags(0),
                                  &Search::on_client, &search, &status);
  if (!search.client) {
    *error = std::string("no avahi-daemon answers over D-Bus (") + api->strerror(status) + ")";
    api->simple_poll_free(poll);
    return std::nullopt;
  }
  AvahiServiceBrowser* browser =
      api->browser_new(search.client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, kServiceType, nullptr,
                       AvahiLookupFlags(0), &Search::on_browse, &search);
  if (!browser) {
    *error = std::string("cannot browse: ") + api->strerror(api->client_errno(search.client));
  } else {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!search.found && search.failure.empty() && !stop.load() &&
           std::chrono::steady_clock::now() < deadline)
      if (api->simple_poll_iterate(poll, 100) != 0) break;  // waits at most 100 ms
    if (!search.found)
      *error = !search.failure.empty() ? search.failure
               : stop.load()
                   ? "stopped"
                   : "no bridge advertises " + std::string(kServiceType) + " on this network";
    api->browser_free(browser);
  }
  api->client_free(search.client);  // frees the resolvers still running
  api->simple_poll_free(poll);
  return search.found;
}

}  // namespace earshot::device
