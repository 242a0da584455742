#include "bus/bus.h"
#include "bus/local_bus.h"

namespace parley {

Result<BusPtr> openBus(const std::string& url, const std::string& /*node_id*/) {
  if (url.empty() || url == "local") return BusPtr(std::make_unique<LocalBus>());
  if (url.rfind("redis://", 0) == 0) {
    return Status::Unavailable("the Redis bus is not built into this binary yet");
  }
  return Status::BadRequest("unknown bus URL '" + url +
                            "' (expected 'local' or redis://host:port)");
}

}  // namespace parley
