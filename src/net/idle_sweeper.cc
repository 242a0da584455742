#include "net/idle_sweeper.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "net/connection.h"

namespace parley::net {

boost::asio::io_context::id IdleSweeper::id;

IdleSweeper::IdleSweeper(boost::asio::io_context& context)
    : boost::asio::io_context::service(context), timer_(context) {}

void IdleSweeper::add(Connection* c, std::chrono::seconds timeout) {
  if (shut_down_) return;
  c->sweeper_ = this;
  c->idle_prev_ = nullptr;
  c->idle_next_ = head_;
  if (head_) head_->idle_prev_ = c;
  head_ = c;
  if (timeout.count() == 0) return;  // linked only so that shutdown() finds it
  // Look four times per timeout: an idle peer goes within 1.25 timeouts.
  auto interval = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(timeout) / 4,
      std::chrono::milliseconds(100), std::chrono::seconds(30));
  if (interval_.count() == 0 || interval < interval_) interval_ = interval;
  if (!armed_) arm();
}

void IdleSweeper::remove(Connection* c) {
  if (c->sweeper_ != this) return;
  if (c->idle_prev_) c->idle_prev_->idle_next_ = c->idle_next_;
  if (c->idle_next_) c->idle_next_->idle_prev_ = c->idle_prev_;
  if (head_ == c) head_ = c->idle_next_;
  c->idle_prev_ = c->idle_next_ = nullptr;
  c->sweeper_ = nullptr;
}

void IdleSweeper::shutdown() {
  // The loop is going away; connections still linked must not call back.
  // Open connections own themselves (Connection::self_); the loop is going
  // away with their pending operations, so give up that ownership here or
  // they would never be freed.
  shut_down_ = true;
  std::vector<std::shared_ptr<Connection>> owned;
  while (head_) {
    Connection* c = head_;
    remove(c);
    owned.push_back(std::move(c->self_));
  }
  owned.clear();
  timer_.cancel();
}

void IdleSweeper::arm() {
  armed_ = true;
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    armed_ = false;
    if (ec || shut_down_) return;
    sweep();
    if (head_) arm();  // nothing to watch: sleep until the next add()
  });
}

void IdleSweeper::sweep() {
  auto now = std::chrono::steady_clock::now();
  for (Connection* c = head_; c != nullptr;) {
    Connection* next = c->idle_next_;  // closing unlinks c
    c->checkDeadlines(now);
    c = next;
  }
}

}  // namespace parley::net
