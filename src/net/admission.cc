#include "net/admission.h"

namespace parley::net {

bool Admission::admit(const std::string& address) {
  // The global check is not atomic with the increment below: two accepts
  // racing at the limit may both pass. Acceptable — each listener accepts on
  // one thread, and the limit protects memory, not an exact count.
  if (max_connections_ > 0 && open_.load() >= max_connections_) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t& n = per_address_[address];
    if (max_per_address_ > 0 && n >= max_per_address_) {
      if (n == 0) per_address_.erase(address);
      return false;
    }
    ++n;
  }
  open_.fetch_add(1);
  return true;
}

void Admission::release(const std::string& address) {
  open_.fetch_sub(1);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

}  // namespace parley::net
