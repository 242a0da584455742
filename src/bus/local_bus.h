// LocalBus: the single-node bus. Routing is a direct call into the node's
// session registry; presence is a per-user count of local sessions.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <mutex>
#include <unordered_map>

#include "bus/bus.h"

namespace parley {

class LocalBus final : public Bus {
 public:
  void start(DeliverFn deliver, PresenceLostFn presence_lost, MissedFn missed) override;
  void publishAll(std::vector<Envelope> envelopes) override;
  void stop() override;
  void publish(Envelope envelope) override;
  Result<bool> attach(UserId user) override;
  Result<bool> detach(UserId user) override;
  Result<std::vector<bool>> online(const std::vector<UserId>& users) override;

 private:
  DeliverFn deliver_;  // set once in start(), read-only afterwards
  std::mutex mu_;
  std::unordered_map<UserId, int> sessions_;  // guarded by mu_: user -> live sessions
};

}  // namespace parley
