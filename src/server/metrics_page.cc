#include "server/metrics_page.h"

#include <cstdio>

namespace parley::server {
namespace {

class Page {
 public:
  // Starts a metric family: one HELP and one TYPE line, then its samples.
  Page& family(const char* name, const char* type, const char* help) {
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    return *this;
  }
  Page& sample(const char* name, const char* labels, double value) {
    char buf[192];
    std::snprintf(buf, sizeof buf, "%s%s %.17g\n", name, labels, value);
    out_ += buf;
    return *this;
  }
  Page& single(const char* name, const char* type, const char* help, double value) {
    return family(name, type, help).sample(name, "", value);
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

double load(const std::atomic<uint64_t>& a) {
  return static_cast<double>(a.load(std::memory_order_relaxed));
}

}  // namespace

std::string renderMetrics(const Metrics& m, const Gauges& g) {
  Page p;
  p.single("parley_start_time_seconds", "gauge", "Unix time at which this node started.",
           g.start_time_seconds);

  p.family("parley_connections_accepted_total", "counter",
           "Client connections accepted since start, by listener (tcp: JSON lines; web: "
           "HTTP and WebSocket).")
      .sample("parley_connections_accepted_total", "{listener=\"tcp\"}",
              static_cast<double>(g.tcp_accepted))
      .sample("parley_connections_accepted_total", "{listener=\"web\"}",
              static_cast<double>(g.web_accepted));
  p.family("parley_connections_open", "gauge", "Open client connections, by listener.")
      .sample("parley_connections_open", "{listener=\"tcp\"}", static_cast<double>(g.tcp_open))
      .sample("parley_connections_open", "{listener=\"web\"}", static_cast<double>(g.web_open));
  p.single("parley_websockets_open", "gauge",
           "Open WebSocket connections (part of the web listener's open connections).",
           static_cast<double>(g.websockets_open));
  p.single("parley_sessions", "gauge", "Logged-in sessions on this node (one per connection).",
           static_cast<double>(g.sessions));
  p.single("parley_logins_total", "counter", "Successful logins and resumes.", load(m.logins));
  p.single("parley_requests_total", "counter", "Requests answered (success or error).",
           load(m.requests));

  p.family("parley_errors_total", "counter", "Error replies, by error code.");
  for (size_t c = 1; c < m.errors_by_code.size(); ++c) {
    std::string labels = std::string("{code=\"") + codeName(static_cast<Code>(c)) + "\"}";
    p.sample("parley_errors_total", labels.c_str(), load(m.errors_by_code[c]));
  }

  p.family("parley_messages_in_total", "counter",
           "Messages accepted from this node's clients and durably stored, by kind.")
      .sample("parley_messages_in_total", "{kind=\"direct\"}", load(m.direct_messages))
      .sample("parley_messages_in_total", "{kind=\"group\"}", load(m.group_messages));
  p.family("parley_messages_out_total", "counter",
           "Message events written to this node's clients: live as they happen, or replayed "
           "from the inbox after a login.")
      .sample("parley_messages_out_total", "{path=\"live\"}", load(m.messages_out_live))
      .sample("parley_messages_out_total", "{path=\"replay\"}", load(m.messages_out_replay));
  p.single("parley_bus_deliveries_total", "counter",
           "Events (messages, presence, friend_added) the bus routed to users with a session on "
           "this node.",
           load(m.bus_deliveries));

  m.store_commit.render("parley_store_commit_seconds",
                        "Time to durably store one message (the reply waits for it).", &p.text());
  m.store_wal_sync.render("parley_store_wal_sync_seconds",
                          "Embedded store: the fsync of the SQLite WAL that makes commits durable; "
                          "every reply to a send waits for one.",
                          &p.text());
  m.store_writer_hold.render("parley_store_writer_hold_seconds",
                             "Embedded store: how long the writer was held so that the WAL could "
                             "start over; every message waits meanwhile.",
                             &p.text());
  m.loop_lag.render("parley_loop_lag_seconds",
                    "How late an event loop ran a timer due every 10 ms: what every connection "
                    "on a busy or blocked loop waits on top of its own work.",
                    &p.text());
  m.bus_publish_lag.render("parley_bus_publish_lag_seconds",
                           "Time from publishing an event on the bus until it was handed on "
                           "(to Redis, or to local sessions on the local bus).",
                           &p.text());
  p.single("parley_bus_publish_queue_depth", "gauge", "Events waiting to be published on the bus.",
           static_cast<double>(g.bus_queue));
  p.single("parley_bus_publishes_dropped_total", "counter",
           "Events dropped from the bus fast path (queue full or Redis down); recipients get "
           "the messages at their next replay.",
           static_cast<double>(g.bus_dropped));
  p.single("parley_blocking_queue_depth", "gauge",
           "Store and password-hashing tasks waiting for a worker thread.",
           static_cast<double>(g.blocking_queue));
  p.single("parley_blocking_threads", "gauge", "Worker threads for store and hashing work.",
           static_cast<double>(g.blocking_threads));
  p.single("parley_requests_waiting", "gauge",
           "Requests received and queued behind the one running on their connection "
           "(pipelining), over all connections.",
           static_cast<double>(m.requests_waiting.load(std::memory_order_relaxed)));
  return std::move(p.text());
}

}  // namespace parley::server
