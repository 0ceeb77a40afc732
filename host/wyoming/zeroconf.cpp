#include "host/wyoming/zeroconf.h"

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/thread-watch.h>

#include "host/log.h"

namespace earshot::host {

struct ZeroconfAdvertiser::Impl {
  AvahiThreadedPoll* poll = nullptr;
  AvahiClient* client = nullptr;
  AvahiEntryGroup* group = nullptr;
  std::string name;
  int port = 0;

  // Avahi's thread (callbacks), or start() before the poll thread runs.
  void publish(AvahiClient* c) {
    if (!group) group = avahi_entry_group_new(c, &Impl::on_group, this);
    if (!group) {
      LOG_WARN("zeroconf", "cannot create an Avahi entry group: %s",
               avahi_strerror(avahi_client_errno(c)));
      return;
    }
    if (!avahi_entry_group_is_empty(group)) return;
    int rc = avahi_entry_group_add_service(group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                           AvahiPublishFlags(0), name.c_str(), kServiceType,
                                           nullptr, nullptr, uint16_t(port), nullptr);
    if (rc == AVAHI_ERR_COLLISION) return rename(c);
    if (rc < 0 || (rc = avahi_entry_group_commit(group)) < 0) {
      LOG_WARN("zeroconf", "cannot publish %s: %s", kServiceType, avahi_strerror(rc));
      return;
    }
  }

  void rename(AvahiClient* c) {
    char* alternative = avahi_alternative_service_name(name.c_str());
    LOG_WARN("zeroconf", "the name \"%s\" is taken on the network; advertising as \"%s\"",
             name.c_str(), alternative);
    name = alternative;
    avahi_free(alternative);
    if (group) avahi_entry_group_reset(group);
    publish(c);
  }

  static void on_group(AvahiEntryGroup* g, AvahiEntryGroupState state, void* self_) {
    auto* self = static_cast<Impl*>(self_);
    self->group = g;
    switch (state) {
      case AVAHI_ENTRY_GROUP_ESTABLISHED:
        LOG_INFO("zeroconf", "advertising \"%s\" (%s) on port %d", self->name.c_str(), kServiceType,
                 self->port);
        break;
      case AVAHI_ENTRY_GROUP_COLLISION:
        self->rename(avahi_entry_group_get_client(g));
        break;
      case AVAHI_ENTRY_GROUP_FAILURE:
        LOG_WARN("zeroconf", "publishing failed: %s",
                 avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
        break;
      default:
        break;
    }
  }

  static void on_client(AvahiClient* c, AvahiClientState state, void* self_) {
    auto* self = static_cast<Impl*>(self_);
    switch (state) {
      case AVAHI_CLIENT_S_RUNNING:
        self->publish(c);
        break;
      case AVAHI_CLIENT_S_COLLISION:
      case AVAHI_CLIENT_S_REGISTERING:
        if (self->group) avahi_entry_group_reset(self->group);  // published again when running
        break;
      case AVAHI_CLIENT_CONNECTING:
        LOG_WARN("zeroconf",
                 "no avahi-daemon reachable over D-Bus: the Wyoming services are not advertised "
                 "(Home Assistant can still add them by host and port); they will be when the "
                 "daemon starts");
        break;
      case AVAHI_CLIENT_FAILURE:
        LOG_WARN("zeroconf", "the avahi-daemon connection failed: %s",
                 avahi_strerror(avahi_client_errno(c)));
        break;
    }
  }
};

ZeroconfAdvertiser::ZeroconfAdvertiser() : impl_(std::make_unique<Impl>()) {}

ZeroconfAdvertiser::~ZeroconfAdvertiser() {
  stop();
}

bool ZeroconfAdvertiser::start(const std::string& name, int port) {
  Impl& s = *impl_;
  s.name = name;
  s.port = port;
  s.poll = avahi_threaded_poll_new();
  if (!s.poll) {
    LOG_WARN("zeroconf", "cannot start Avahi's poll thread: not advertising");
    return false;
  }
  int error = 0;
  // NO_FAIL: with no daemon (or no D-Bus) the client waits for one instead of failing.
  s.client = avahi_client_new(avahi_threaded_poll_get(s.poll), AVAHI_CLIENT_NO_FAIL,
                              &Impl::on_client, &s, &error);
  if (!s.client) {
    LOG_WARN("zeroconf", "no Avahi client (%s): the Wyoming services are not advertised",
             avahi_strerror(error));
    avahi_threaded_poll_free(s.poll);
    s.poll = nullptr;
    return true;  // the bridge runs on without it
  }
  if (avahi_threaded_poll_start(s.poll) < 0) {
    LOG_WARN("zeroconf", "cannot start Avahi's poll thread: not advertising");
    avahi_client_free(s.client);
    avahi_threaded_poll_free(s.poll);
    s.client = nullptr;
    s.poll = nullptr;
    return false;
  }
  return true;
}

void ZeroconfAdvertiser::stop() {
  Impl& s = *impl_;
  if (!s.poll) return;
  avahi_threaded_poll_stop(s.poll);
  if (s.client) avahi_client_free(s.client);  // frees the group and withdraws the service
  avahi_threaded_poll_free(s.poll);
  s.client = nullptr;
  s.group = nullptr;
  s.poll = nullptr;
}

}  // namespace earshot::host
