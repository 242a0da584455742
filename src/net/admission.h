// Admission: the connection limits of one listener — open connections in
// all and per client address. A listener asks admit() for each accepted
// socket and the connection gives its place back with release() when it is
// gone.
//
// Held by shared_ptr: a connection's release can run after its listener was
// destroyed (connections parked on stopped loops are destroyed later), so
// each connection keeps the Admission alive, never the listener.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::net {

class Admission {
 public:
  // 0 means unlimited.
  Admission(size_t max_connections, size_t max_per_address)
      : max_connections_(max_connections), max_per_address_(max_per_address) {}

  // Counts a connection from `address` in; false (nothing counted) when a
  // limit is reached.
  bool admit(const std::string& address);
  // Gives back a place taken by admit().
  void release(const std::string& address);
  size_t open() const { return open_.load(std::memory_order_relaxed); }

 private:
  const size_t max_connections_;
  const size_t max_per_address_;
  std::atomic<size_t> open_{0};
  std::mutex mu_;
  std::unordered_map<std::string, size_t> per_address_;  // guarded by mu_
};

using AdmissionPtr = std::shared_ptr<Admission>;

// One connection's place under the limits of an Admission, given back when
// the slot is released or destroyed. Move-only, and small enough to live
// inside the connection: an idle server holds one per connection, so a
// separate allocation each (a shared_ptr with a deleter) cost ~100 bytes.
class AdmissionSlot {
 public:
  AdmissionSlot() = default;
  // `address` was admitted by `admission`.
  AdmissionSlot(AdmissionPtr admission, std::string address)
      : admission_(std::move(admission)), address_(std::move(address)) {}
  AdmissionSlot(AdmissionSlot&& other) noexcept = default;
  AdmissionSlot& operator=(AdmissionSlot&& other) noexcept {
    if (this != &other) {
      release();
      admission_ = std::move(other.admission_);
      address_ = std::move(other.address_);
    }
    return *this;
  }
  ~AdmissionSlot() { release(); }

  // Gives the place back now. Idempotent.
  void release() {
    // Moving out leaves admission_ empty, so a second call does nothing.
    if (auto admission = std::move(admission_)) admission->release(address_);
  }

 private:
  AdmissionPtr admission_;  // null: nothing held
  std::string address_;
};

}  // namespace parley::net
