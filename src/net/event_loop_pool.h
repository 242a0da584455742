// EventLoopPool: N worker event loops, one io_context per thread (the
// boss/worker reactor of muduo). Connections are pinned to one loop for their
// whole life; others reach them only by posting to that loop's executor.
//
// Thread safety: next() and contexts may be used from any thread after
// construction; stop() from one thread.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace parley::net {

class EventLoopPool {
 public:
  explicit EventLoopPool(size_t loops);
  EventLoopPool(const EventLoopPool&) = delete;
  EventLoopPool& operator=(const EventLoopPool&) = delete;
  ~EventLoopPool();

  // Round-robin choice of the loop for a new connection.
  boost::asio::io_context& next();
  size_t size() const { return loops_.size(); }
  boost::asio::io_context& at(size_t i) { return *loops_[i]->context; }

  // Stops every loop (pending handlers are abandoned) and joins the threads.
  void stop();

 private:
  struct Loop {
    // concurrency hint 1: only this loop's thread runs the context, so Asio
    // can skip internal locking.
    std::unique_ptr<boost::asio::io_context> context = std::make_unique<boost::asio::io_context>(1);
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard =
        boost::asio::make_work_guard(*context);
    std::thread thread;
  };
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<size_t> next_{0};
};

}  // namespace parley::net
