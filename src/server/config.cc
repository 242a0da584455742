#include "server/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace parley::server {
namespace {

constexpr const char* kDescription =
    "parley-server: the Parley chat server (one node).\n"
    "\n"
    "With no options it listens for JSON-lines clients on 127.0.0.1:7000 and stores\n"
    "everything in ./parley.db (SQLite). Add --web-port 7080 for the browser client and\n"
    "WebSocket, --admin-port 7090 for /metrics and /healthz. A cluster node shares a\n"
    "database and Redis: --store mysql://user:pass@host:3306/db --bus redis://host:6379\n"
    "\n"
    "Every option can also be set in a TOML file (--config FILE, keys as the option\n"
    "names without the leading dashes: web-port = 7080) or in an environment variable\n"
    "(PARLEY_WEB_PORT); flags win over the environment, which wins over the file.\n"
    "--print-config shows the result as a TOML file.";

}  // namespace

int parseConfig(int argc, char** argv, Config* c) {
  CLI::App app{kDescription, "parley-server"};
  app.get_formatter()->column_width(40);
  app.set_config("--config", "", "Read options from this TOML file");
  app.set_version_flag("--version", "parley-server 0.1.0");
  app.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);

  const char* net = "Listening";
  app.add_option("--host", c->host, "Address to listen on (all listeners)")
      ->envname("PARLEY_HOST")
      ->group(net);
  app.add_option("--port", c->port, "TCP port for JSON-lines clients (0 picks a free one)")
      ->envname("PARLEY_PORT")
      ->group(net);
  app.add_option("--tls-cert", c->tls_cert,
                 "PEM certificate chain: clients on --port connect with TLS (needs --tls-key)")
      ->envname("PARLEY_TLS_CERT")
      ->group(net);
  app.add_option("--tls-key", c->tls_key, "PEM private key of --tls-cert")
      ->envname("PARLEY_TLS_KEY")
      ->group(net);
  app.add_option("--web-port", c->web_port,
                 "HTTP port for the browser client and WebSocket on /ws (0 = off)")
      ->envname("PARLEY_WEB_PORT")
      ->group(net);
  app.add_option("--web-root", c->web_root,
                 "Directory of the browser client (default: found next to the binary or in the "
                 "source tree)")
      ->envname("PARLEY_WEB_ROOT")
      ->group(net);
  app.add_option("--admin-port", c->admin_port,
                 "HTTP port for GET /metrics (Prometheus) and GET /healthz (0 = off)")
      ->envname("PARLEY_ADMIN_PORT")
      ->group(net);
  app.add_option("--admin-host", c->admin_host,
                 "Address of the admin port (default: --host); keep it private")
      ->envname("PARLEY_ADMIN_HOST")
      ->group(net);
  app.add_option("--threads", c->threads, "Event-loop threads (0 = one per hardware thread)")
      ->envname("PARLEY_THREADS")
      ->group(net);

  const char* storage = "Storage and cluster";
  app.add_option("--data", c->data, "SQLite database file (when --store is not given)")
      ->envname("PARLEY_DATA")
      ->group(storage);
  app.add_option("--store", c->store, "Store URL: sqlite:PATH or mysql://user:pass@host:port/db")
      ->envname("PARLEY_STORE")
      ->group(storage);
  app.add_option("--wal-sync-interval-us", c->wal_sync_interval_us,
                 "SQLite store: least microseconds between the starts of two WAL fsyncs "
                 "while commits keep coming (0 = sync as soon as one waits); fewer disk "
                 "requests for a little median latency (docs/operations.md)")
      ->envname("PARLEY_WAL_SYNC_INTERVAL_US")
      ->check(CLI::Range(0, 100000))
      ->group(storage);
  app.add_option("--bus", c->bus, "Message bus: local (one node), or redis://host:port")
      ->envname("PARLEY_BUS")
      ->group(storage);
  app.add_option("--node-id", c->node_id, "Name of this node on the bus (default host-pid)")
      ->envname("PARLEY_NODE_ID")
      ->group(storage);
  app.add_option("--presence-ttl", c->presence_ttl,
                 "Seconds before users of a node that died are shown offline (Redis bus)")
      ->envname("PARLEY_PRESENCE_TTL")
      ->check(CLI::Range(1, 3600))
      ->group(storage);
  app.add_option("--blocking-threads", c->blocking_threads,
                 "Threads for database and password-hashing work")
      ->envname("PARLEY_BLOCKING_THREADS")
      ->check(CLI::Range(1, 1024))
      ->group(storage);
  app.add_option("--max-pending-tasks", c->max_pending_tasks,
                 "Database/hashing tasks queued before requests answer `unavailable`")
      ->envname("PARLEY_MAX_PENDING_TASKS")
      ->check(CLI::Range(16, 100000000))
      ->group(storage);

  const char* security = "Accounts";
  app.add_option("--hash-cost", c->hash_cost,
                 "argon2id cost: interactive, moderate, or min (tests only)")
      ->envname("PARLEY_HASH_COST")
      ->check(CLI::IsMember({"interactive", "moderate", "min"}))
      ->group(security);
  app.add_option("--token-ttl-hours", c->token_ttl_hours, "Lifetime of resume tokens (hours)")
      ->envname("PARLEY_TOKEN_TTL_HOURS")
      ->group(security);

  const char* limits = "Limits (0 = unlimited where it says so)";
  app.add_option("--max-line", c->max_line, "Longest request (line or WebSocket message), bytes")
      ->envname("PARLEY_MAX_LINE")
      ->check(CLI::Range(256, 16 * 1024 * 1024))
      ->group(limits);
  app.add_option("--max-line-before-login", c->max_line_before_login,
                 "Longest request until the client has logged in, bytes (at most --max-line)")
      ->envname("PARLEY_MAX_LINE_BEFORE_LOGIN")
      ->check(CLI::Range(256, 16 * 1024 * 1024))
      ->group(limits);
  app.add_option("--max-queued-bytes", c->max_queued_bytes,
                 "Output queued for one client before it is cut off as too slow, bytes")
      ->envname("PARLEY_MAX_QUEUED_BYTES")
      ->group(limits);
  app.add_option("--idle-timeout", c->idle_timeout,
                 "Seconds without input before a connection is closed (0 = never)")
      ->envname("PARLEY_IDLE_TIMEOUT")
      ->group(limits);
  app.add_option("--handshake-timeout", c->handshake_timeout,
                 "Seconds a connection may take to log in, counted from connect (or logout) "
                 "whatever it sends meanwhile (0 = no limit)")
      ->envname("PARLEY_HANDSHAKE_TIMEOUT")
      ->group(limits);
  app.add_option("--rate-per-connection", c->rate_per_connection,
                 "Messages per second one connection may send (0 = unlimited)")
      ->envname("PARLEY_RATE_PER_CONNECTION")
      ->group(limits);
  app.add_option("--rate-per-user", c->rate_per_user,
                 "Messages per second one user may send on this node (0 = unlimited)")
      ->envname("PARLEY_RATE_PER_USER")
      ->group(limits);
  app.add_option("--login-failures-per-minute", c->login_failures_per_minute,
                 "Failed logins per minute for one name (6x for one address) (0 = unlimited)")
      ->envname("PARLEY_LOGIN_FAILURES_PER_MINUTE")
      ->group(limits);
  app.add_option("--max-group-size", c->max_group_size, "Members per group (0 = unlimited)")
      ->envname("PARLEY_MAX_GROUP_SIZE")
      ->group(limits);
  app.add_option("--max-friends", c->max_friends, "Friends per user (0 = unlimited)")
      ->envname("PARLEY_MAX_FRIENDS")
      ->group(limits);
  app.add_option("--max-connections", c->max_connections,
                 "Open connections on each listener (0 = unlimited)")
      ->envname("PARLEY_MAX_CONNECTIONS")
      ->group(limits);
  app.add_option("--max-connections-per-address", c->max_connections_per_address,
                 "Open connections from one client address, per listener (0 = unlimited)")
      ->envname("PARLEY_MAX_CONNECTIONS_PER_ADDRESS")
      ->group(limits);

  const char* ops = "Operation";
  app.add_option("--log-level", c->log_level, "trace, debug, info, warn, error or off")
      ->envname("PARLEY_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->group(ops);
  app.add_option("--port-file", c->port_file, "Write the bound client port to this file")
      ->group(ops);
  app.add_option("--web-port-file", c->web_port_file,
                 "Write the bound web port to this file (starts the web listener; with "
                 "--web-port 0 on a free port)")
      ->group(ops);
  app.add_option("--admin-port-file", c->admin_port_file,
                 "Write the bound admin port to this file (starts the admin listener; with "
                 "--admin-port 0 on a free port)")
      ->group(ops);
  app.add_flag("--print-config", c->print_config,
               "Print the effective configuration as TOML and exit")
      ->group(ops);
  // Precedence: flags > environment > file > defaults. CLI11 on its own
  // lets the file win over the environment; operators expect the opposite
  // (a unit's Environment= or a container's env overrides the shared file).
  // So set variables become flags placed before the real ones, and with
  // "last one wins" the real flags still override them.
  std::vector<std::string> args;
  for (const CLI::Option* opt : app.get_options()) {
    const std::string& env = opt->get_envname();
    const char* value = env.empty() ? nullptr : std::getenv(env.c_str());
    if (value) {
      args.push_back(opt->get_name());
      args.push_back(value);
    }
  }
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse
  try {
    app.parse(args);
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
  auto str = [](const std::string& s) {
    std::string q = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') q += '\\';
      q += ch;
    }
    return q + "\"";
  };
  out << "# parley-server configuration (--config FILE)\n"
      << "host = " << str(c.host) << "\n"
      << "port = " << c.port << "\n"
      << "web-port = " << c.web_port << "\n"
      << "web-root = " << str(c.web_root) << "\n"
      << "admin-port = " << c.admin_port << "\n"
      << "admin-host = " << str(c.admin_host) << "\n"
      << "threads = " << c.threads << "\n"
      << "data = " << str(c.data) << "\n"
      << "store = " << str(c.store) << "\n"
      << "wal-sync-interval-us = " << c.wal_sync_interval_us << "\n"
      << "bus = " << str(c.bus) << "\n"
      << "node-id = " << str(c.node_id) << "\n"
      << "presence-ttl = " << c.presence_ttl << "\n"
      << "blocking-threads = " << c.blocking_threads << "\n"
      << "max-pending-tasks = " << c.max_pending_tasks << "\n"
      << "hash-cost = " << str(c.hash_cost) << "\n"
      << "token-ttl-hours = " << c.token_ttl_hours << "\n"
      << "max-line = " << c.max_line << "\n"
      << "max-line-before-login = " << c.max_line_before_login << "\n"
      << "max-queued-bytes = " << c.max_queued_bytes << "\n"
      << "idle-timeout = " << c.idle_timeout << "\n"
      << "handshake-timeout = " << c.handshake_timeout << "\n"
      << "tls-cert = " << str(c.tls_cert) << "\n"
      << "tls-key = " << str(c.tls_key) << "\n"
      << "rate-per-connection = " << c.rate_per_connection << "\n"
      << "rate-per-user = " << c.rate_per_user << "\n"
      << "login-failures-per-minute = " << c.login_failures_per_minute << "\n"
      << "max-group-size = " << c.max_group_size << "\n"
      << "max-friends = " << c.max_friends << "\n"
      << "max-connections = " << c.max_connections << "\n"
      << "max-connections-per-address = " << c.max_connections_per_address << "\n"
      << "log-level = " << str(c.log_level) << "\n";
  return out.str();
}

}  // namespace parley::server
