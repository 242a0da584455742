// DeliveryLedger: checks, message by message, that every message the server
// acknowledged reaches every recipient — also when connections drop and log
// in again, where counting would not do (a message sent just before its
// sender dropped may arrive without its ack ever being seen, and replay after
// a reconnect repeats what was not yet acked). A (recipient, id) pair is
// kept until both the server's ok and the delivery are seen, so memory
// follows what is in flight, not what was sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace parley::bench {

class DeliveryLedger {
 public:
  explicit DeliveryLedger(size_t recipients) : open_(recipients) {}

  // The server answered ok for message `id`, owed to `recipient`.
  void acked(size_t recipient, int64_t id) { mark(recipient, id, kAcked); }
  // `recipient` received message `id` (first time in its seq order).
  void delivered(size_t recipient, int64_t id) { mark(recipient, id, kDelivered); }

  // Acknowledged messages not (yet) delivered, over all recipients.
  uint64_t missing() const {
    uint64_t n = 0;
    for (const auto& m : open_) {
      for (const auto& [id, state] : m) n += state == kAcked;
    }
    return n;
  }

 private:
  static constexpr uint8_t kAcked = 1, kDelivered = 2;
  void mark(size_t recipient, int64_t id, uint8_t bit) {
    auto& m = open_[recipient];
    uint8_t& state = m[id];
    state |= bit;
    if (state == (kAcked | kDelivered)) m.erase(id);
  }
  std::vector<std::unordered_map<int64_t, uint8_t>> open_;
};

}  // namespace parley::bench
