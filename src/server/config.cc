#include "server/config.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

namespace parley::server {

int parseConfig(int argc, char** argv, Config* c) {
  CLI::App app{
      "parley-server: the Parley chat server.\n"
      "With no arguments it listens on 127.0.0.1:7000 and stores in ./parley.db (SQLite).\n"
      "Cluster mode: --store mysql://user:pass@host:3306/db --bus redis://host:6379"};
  app.set_config("--config", "", "Read options from a TOML file (flags override it)");
  app.option_defaults()->always_capture_default();
  app.add_option("--host", c->host, "Address to listen on")->envname("PARLEY_HOST");
  app.add_option("--port", c->port, "TCP port to listen on (0 picks a free one)")
      ->envname("PARLEY_PORT");
  app.add_option("--data", c->data, "SQLite database file (when --store is not given)")
      ->envname("PARLEY_DATA");
  app.add_option("--store", c->store, "Store URL: sqlite:PATH or mysql://user:pass@host:port/db")
      ->envname("PARLEY_STORE");
  app.add_option("--bus", c->bus, "Message bus: local, or redis://host:port")
      ->envname("PARLEY_BUS");
  app.add_option("--node-id", c->node_id, "Name of this node on the bus (default host-pid)")
      ->envname("PARLEY_NODE_ID");
  app.add_option("--presence-ttl", c->presence_ttl,
                 "Seconds before users of a node that died are shown offline (Redis bus)")
      ->envname("PARLEY_PRESENCE_TTL")
      ->check(CLI::Range(1, 3600));
  app.add_option("--threads", c->threads, "Event-loop threads (0 = one per hardware thread)")
      ->envname("PARLEY_THREADS");
  app.add_option("--blocking-threads", c->blocking_threads,
                 "Threads for database and password hashing work")
      ->envname("PARLEY_BLOCKING_THREADS")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-line", c->max_line, "Longest request line in bytes")
      ->envname("PARLEY_MAX_LINE")
      ->check(CLI::Range(256, 16 * 1024 * 1024));
  app.add_option("--max-line-before-login", c->max_line_before_login,
                 "Longest line in bytes until the client has logged in (at most --max-line)")
      ->envname("PARLEY_MAX_LINE_BEFORE_LOGIN")
      ->check(CLI::Range(256, 16 * 1024 * 1024));
  app.add_option("--max-queued-bytes", c->max_queued_bytes,
                 "Output bytes queued for one client before it is disconnected as too slow")
      ->envname("PARLEY_MAX_QUEUED_BYTES");
  app.add_option("--idle-timeout", c->idle_timeout,
                 "Seconds without input before a connection is closed (0 = never)")
      ->envname("PARLEY_IDLE_TIMEOUT");
  app.add_option("--handshake-timeout", c->handshake_timeout,
                 "Seconds a connection may take to log in, counted from connect (or logout) "
                 "whatever it sends meanwhile (0 = no limit)")
      ->envname("PARLEY_HANDSHAKE_TIMEOUT");
  app.add_option("--tls-cert", c->tls_cert,
                 "PEM certificate chain: clients connect with TLS (needs --tls-key)")
      ->envname("PARLEY_TLS_CERT");
  app.add_option("--tls-key", c->tls_key, "PEM private key of --tls-cert")
      ->envname("PARLEY_TLS_KEY");
  app.add_option("--log-level", c->log_level, "trace, debug, info, warn, error")
      ->envname("PARLEY_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--hash-cost", c->hash_cost,
                 "argon2id cost: interactive (default), moderate, or min (tests only)")
      ->envname("PARLEY_HASH_COST")
      ->check(CLI::IsMember({"interactive", "moderate", "min"}));
  app.add_option("--token-ttl-hours", c->token_ttl_hours, "Lifetime of resume tokens")
      ->envname("PARLEY_TOKEN_TTL_HOURS");
  app.add_option("--rate-per-connection", c->rate_per_connection,
                 "Messages per second one connection may send (0 = unlimited)")
      ->envname("PARLEY_RATE_PER_CONNECTION");
  app.add_option("--rate-per-user", c->rate_per_user,
                 "Messages per second one user may send on this node (0 = unlimited)")
      ->envname("PARLEY_RATE_PER_USER");
  app.add_option("--login-failures-per-minute", c->login_failures_per_minute,
                 "Failed logins per minute for one name (6x for one address) before "
                 "rate_limited (0 = unlimited)")
      ->envname("PARLEY_LOGIN_FAILURES_PER_MINUTE");
  app.add_option("--max-group-size", c->max_group_size, "Members per group (0 = unlimited)")
      ->envname("PARLEY_MAX_GROUP_SIZE");
  app.add_option("--max-friends", c->max_friends, "Friends per user (0 = unlimited)")
      ->envname("PARLEY_MAX_FRIENDS");
  app.add_option("--max-connections", c->max_connections,
                 "Open connections on this node (0 = unlimited)")
      ->envname("PARLEY_MAX_CONNECTIONS");
  app.add_option("--max-connections-per-address", c->max_connections_per_address,
                 "Open connections from one client address (0 = unlimited)")
      ->envname("PARLEY_MAX_CONNECTIONS_PER_ADDRESS");
  app.add_option("--port-file", c->port_file, "Write the bound port to this file");
  app.add_option("--admin-port", c->admin_port,
                 "HTTP port for GET /metrics (Prometheus) and GET /healthz (0 = off)")
      ->envname("PARLEY_ADMIN_PORT");
  app.add_option("--admin-port-file", c->admin_port_file,
                 "Write the bound admin port to this file (with --admin-port 0 picks a free one)");
  app.add_flag("--print-config", c->print_config, "Print the effective configuration and exit");
  try {
    app.parse(argc, argv);
    if (c->tls_cert.empty() != c->tls_key.empty()) {
      throw CLI::ValidationError("--tls-cert and --tls-key", "TLS needs both");
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (c->print_config) {
    std::cout << toToml(*c);
    return 0;
  }
  return -1;
}

std::string toToml(const Config& c) {
  std::ostringstream out;
  auto str = [](const std::string& s) { return "\"" + s + "\""; };
  out << "host = " << str(c.host) << "\n"
      << "port = " << c.port << "\n"
      << "data = " << str(c.data) << "\n"
      << "store = " << str(c.store) << "\n"
      << "bus = " << str(c.bus) << "\n"
      << "node-id = " << str(c.node_id) << "\n"
      << "presence-ttl = " << c.presence_ttl << "\n"
      << "threads = " << c.threads << "\n"
      << "blocking-threads = " << c.blocking_threads << "\n"
      << "max-line = " << c.max_line << "\n"
      << "max-line-before-login = " << c.max_line_before_login << "\n"
      << "max-queued-bytes = " << c.max_queued_bytes << "\n"
      << "idle-timeout = " << c.idle_timeout << "\n"
      << "handshake-timeout = " << c.handshake_timeout << "\n"
      << "tls-cert = " << str(c.tls_cert) << "\n"
      << "tls-key = " << str(c.tls_key) << "\n"
      << "log-level = " << str(c.log_level) << "\n"
      << "hash-cost = " << str(c.hash_cost) << "\n"
      << "token-ttl-hours = " << c.token_ttl_hours << "\n"
      << "rate-per-connection = " << c.rate_per_connection << "\n"
      << "rate-per-user = " << c.rate_per_user << "\n"
      << "login-failures-per-minute = " << c.login_failures_per_minute << "\n"
      << "max-group-size = " << c.max_group_size << "\n"
      << "max-friends = " << c.max_friends << "\n"
      << "max-connections = " << c.max_connections << "\n"
      << "max-connections-per-address = " << c.max_connections_per_address << "\n"
      << "admin-port = " << c.admin_port << "\n";
  return out.str();
}

}  // namespace parley::server
