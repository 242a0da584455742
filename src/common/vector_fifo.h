// VectorFifo: a first-in first-out queue over a std::vector that allocates
// nothing while empty (libstdc++'s std::deque allocates ~600 bytes as soon
// as it is constructed, which adds up over tens of thousands of idle
// connections) and frees its storage whenever it drains.
// Not thread safe.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace parley {

template <typename T>
class VectorFifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  void push(T item) { items_.push_back(std::move(item)); }
  T& front() { return items_[head_]; }
  T& back() { return items_.back(); }
  // The i-th item from the front (0 is front()).
  T& at(size_t i) { return items_[head_ + i]; }
  // Removes the front item; storage is released when the queue drains, and
  // compacted when the dead prefix outgrows the live part.
  void pop() {
    ++head_;
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<long>(head_));
      head_ = 0;
    }
  }
  void clear() {
    std::vector<T>().swap(items_);
    head_ = 0;
  }

 private:
  std::vector<T> items_;
  size_t head_ = 0;
};

}  // namespace parley
