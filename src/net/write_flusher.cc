#include "net/write_flusher.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <exception>

#include "net/connection.h"

namespace parley::net {

boost::asio::io_context::id WriteFlusher::id;

WriteFlusher::WriteFlusher(boost::asio::io_context& context)
    : boost::asio::io_context::service(context), context_(context) {}

void WriteFlusher::schedule(std::shared_ptr<Connection> c) {
  pending_.push_back(std::move(c));
  if (posted_) return;
  posted_ = true;
  boost::asio::post(context_, [this] { flush(); });
}

void WriteFlusher::flush() {
  posted_ = false;
  flushing_.swap(pending_);
  for (const auto& c : flushing_) {
    try {
      c->flushNow();
    } catch (const std::exception& e) {
      // flushNow() clears the connection's flag first, so a failure here
      // leaves no other connection waiting for a flush that never comes.
      spdlog::error("write flush failed: {}", e.what());
    }
  }
  flushing_.clear();
}

void WriteFlusher::shutdown() {
  pending_.clear();
  flushing_.clear();
}

}  // namespace parley::net
