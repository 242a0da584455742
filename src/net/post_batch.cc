#include "net/post_batch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <exception>

namespace parley::net {
namespace {
thread_local PostBatch* t_open = nullptr;
}  // namespace

PostBatch::PostBatch() : outer_(t_open) {
  if (!outer_) t_open = this;
}

PostBatch::~PostBatch() {
  if (outer_) return;  // nested: the outer batch holds the work
  t_open = nullptr;
  for (auto& [loop, items] : loops_) {
    boost::asio::post(*loop, [items = std::move(items)] {
      // Each item was a handler of its own before it was batched: one that
      // throws must not take the others (a reply a connection waits for)
      // with it.
      for (const Item& item : items) {
        try {
          item.fn();
        } catch (const std::exception& e) {
          spdlog::error("posted work failed: {}", e.what());
        }
      }
    });
  }
}

void PostBatch::post(boost::asio::io_context& loop, std::shared_ptr<void> keep,
                     std::function<void()> fn) {
  PostBatch* batch = t_open;
  if (!batch) {
    boost::asio::post(loop, [keep = std::move(keep), fn = std::move(fn)] { fn(); });
    return;
  }
  auto it = std::find_if(batch->loops_.begin(), batch->loops_.end(),
                         [&loop](const auto& entry) { return entry.first == &loop; });
  if (it == batch->loops_.end()) it = batch->loops_.insert(batch->loops_.end(), {&loop, {}});
  it->second.push_back(Item{std::move(keep), std::move(fn)});
}

}  // namespace parley::net
