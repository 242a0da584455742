// BlockingPool: a fixed set of threads for work that may block (SQL, fsync,
// argon2id, Redis round trips), so that event-loop threads never wait.
// The queue is bounded: when it is full, trySubmit() refuses the task and the
// caller answers `unavailable` instead of letting memory grow without bound.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace parley {

class BlockingPool {
 public:
  using Task = std::function<void()>;

  // Starts `threads` threads (at least 1). `max_queued` bounds tasks waiting
  // for a thread.
  BlockingPool(std::string name, size_t threads, size_t max_queued);
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  // Runs the tasks already queued, then joins the threads.
  ~BlockingPool();

  // Queues `task`; false (task dropped) when the queue is full or the pool
  // is stopping.
  [[nodiscard]] bool trySubmit(Task task);

  // Queues `task` even past the bound. Only for work that must not be lost
  // and whose amount is already bounded elsewhere (e.g. one cleanup per
  // closing connection). Dropped only when the pool is stopping.
  void submit(Task task);

  // Stops accepting tasks, runs what is queued, joins the threads. Idempotent.
  void shutdown();

  size_t queued() const;
  size_t threadCount() const { return threads_.size(); }

 private:
  void run();

  const std::string name_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace parley
