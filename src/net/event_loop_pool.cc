#include "net/event_loop_pool.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <string>

namespace parley::net {

EventLoopPool::EventLoopPool(size_t loops) {
  if (loops == 0) loops = 1;
  for (size_t i = 0; i < loops; ++i) {
    auto loop = std::make_unique<Loop>();
    boost::asio::io_context* ctx = loop->context.get();
    loop->thread = std::thread([ctx, i] {
      std::string name = "loop-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      for (;;) {
        // A handler that throws must not take the whole server down; log it
        // and keep the loop running for everyone else on it.
        try {
          ctx->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("uncaught exception on {}: {}", name, e.what());
        }
      }
    });
    loops_.push_back(std::move(loop));
  }
}

EventLoopPool::~EventLoopPool() { stop(); }

boost::asio::io_context& EventLoopPool::next() {
  size_t i = next_.fetch_add(1, std::memory_order_relaxed) % loops_.size();
  return *loops_[i]->context;
}

void EventLoopPool::stop() {
  for (auto& loop : loops_) {
    loop->guard.reset();
    loop->context->stop();
  }
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

}  // namespace parley::net
