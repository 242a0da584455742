#include <algorithm>

#include "bus/bus.h"
#include "bus/local_bus.h"
#include "bus/redis_bus.h"

namespace parley {

Result<BusPtr> openBus(const std::string& url, const std::string& node_id,
                       int64_t presence_ttl_ms) {
  if (url.empty() || url == "local") return BusPtr(std::make_unique<LocalBus>());
  if (url.rfind("redis://", 0) == 0) {
    auto options = parseRedisUrl(url);
    if (!options.ok()) return options.status();
    options->node_id = node_id;
    options->presence_ttl = std::chrono::milliseconds(presence_ttl_ms);
    // Three refreshes per lifetime: one lost heartbeat does not flap presence.
    options->heartbeat_interval =
        std::chrono::milliseconds(std::max<int64_t>(100, presence_ttl_ms / 3));
    return BusPtr(std::make_unique<RedisBus>(std::move(options).value()));
  }
  return Status::BadRequest("unknown bus URL '" + url +
                            "' (expected 'local' or redis://host:port)");
}

}  // namespace parley
