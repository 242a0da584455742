// PostBatch: hands an event loop a thread's burst of work as one handler.
// While a PostBatch is open on a thread, connections' post()s made on that
// thread are collected per loop, and each loop gets them, in order, as ONE
// posted handler when the batch closes. The SQLite writer thread opens one
// around a commit's completions: a batch of 500 messages then wakes each loop
// once, instead of queueing (and waking it for) a reply and an event per
// message, each with its own lock, allocation and futex.
//
// Thread-local; batches nest (the outermost flushes).
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace parley::net {

class PostBatch {
 public:
  PostBatch();
  PostBatch(const PostBatch&) = delete;
  PostBatch& operator=(const PostBatch&) = delete;
  // Posts what was collected, one handler per loop.
  ~PostBatch();

  // Runs `fn` on `loop` — now, through asio::post, or when the batch open on
  // this thread closes. `keep` is held until `fn` has run.
  static void post(boost::asio::io_context& loop, std::shared_ptr<void> keep,
                   std::function<void()> fn);

 private:
  struct Item {
    std::shared_ptr<void> keep;
    std::function<void()> fn;
  };
  // A server has a handful of loops: a vector searched linearly.
  std::vector<std::pair<boost::asio::io_context*, std::vector<Item>>> loops_;
  PostBatch* outer_;
};

}  // namespace parley::net
