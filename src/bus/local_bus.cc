#include "bus/local_bus.h"

#include <chrono>

namespace parley {

void LocalBus::start(DeliverFn deliver, PresenceLostFn /*presence_lost*/, MissedFn /*missed*/) {
  // In one process nobody can vanish without detaching, so presence is never
  // "lost", and a direct call loses no event: neither callback is needed.
  deliver_ = std::move(deliver);
}

void LocalBus::stop() {}

void LocalBus::publish(Envelope envelope) {
  // The registry behind deliver_ only posts to connection loops, so calling
  // it inline is as cheap as queueing and keeps the publisher's order.
  if (!deliver_) return;
  auto started = std::chrono::steady_clock::now();
  deliver_(std::span<const Envelope>(&envelope, 1));
  if (metrics_) metrics_->bus_publish_lag.observe(std::chrono::steady_clock::now() - started);
}

void LocalBus::publishAll(std::vector<Envelope> envelopes) {
  if (!deliver_ || envelopes.empty()) return;
  auto started = std::chrono::steady_clock::now();
  deliver_(envelopes);
  if (metrics_) metrics_->bus_publish_lag.observe(std::chrono::steady_clock::now() - started);
}

Result<bool> LocalBus::attach(UserId user) {
  std::lock_guard<std::mutex> lock(mu_);
  return ++sessions_[user] == 1;
}

Result<bool> LocalBus::detach(UserId user) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(user);
  if (it == sessions_.end()) return false;
  if (--it->second > 0) return false;
  sessions_.erase(it);
  return true;
}

Result<std::vector<bool>> LocalBus::online(const std::vector<UserId>& users) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> result;
  result.reserve(users.size());
  for (UserId u : users) result.push_back(sessions_.count(u) > 0);
  return result;
}

}  // namespace parley
