// ConnectionTracker: every open client channel of this node, so a graceful
// shutdown can tell each one goodbye. Thread safety: any thread.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace parley::server {

class ClientChannel;

class ConnectionTracker {
 public:
  void add(const std::shared_ptr<ClientChannel>& channel) {
    std::lock_guard<std::mutex> lock(mu_);
    channels_[channel.get()] = channel;
  }
  void remove(const ClientChannel* channel) {
    std::lock_guard<std::mutex> lock(mu_);
    channels_.erase(channel);
  }
  std::vector<std::shared_ptr<ClientChannel>> all() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<ClientChannel>> out;
    for (auto& [ptr, weak] : channels_) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return channels_.size();
  }

 private:
  std::mutex mu_;
  std::unordered_map<const ClientChannel*, std::weak_ptr<ClientChannel>> channels_;  // guarded
};

}  // namespace parley::server
