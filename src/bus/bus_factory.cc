#include "bus/bus.h"
#include "bus/local_bus.h"
#include "bus/redis_bus.h"

namespace parley {

Result<BusPtr> openBus(const std::string& url, const std::string& node_id) {
  if (url.empty() || url == "local") return BusPtr(std::make_unique<LocalBus>());
  if (url.rfind("redis://", 0) == 0) {
    auto options = parseRedisUrl(url);
    if (!options.ok()) return options.status();
    options->node_id = node_id;
    return BusPtr(std::make_unique<RedisBus>(std::move(options).value()));
  }
  return Status::BadRequest("unknown bus URL '" + url +
                            "' (expected 'local' or redis://host:port)");
}

}  // namespace parley
