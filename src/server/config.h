// Server configuration: defaults, then a config file (TOML, --config), then
// environment variables (PARLEY_*), then flags — the later wins.
// docs/operations.md lists every option.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace parley::server {

struct Config {
  std::string host = "127.0.0.1";
  uint16_t port = 7000;
  std::string data = "./parley.db";   // SQLite file used when `store` is empty
  std::string store;                  // store URL: sqlite:PATH or mysql://...
  unsigned wal_sync_interval_us = 0;  // SQLite: least time between WAL fsyncs' starts
  std::string bus = "local";          // "local" or redis://host:port
  std::string node_id;                // defaults to host-pid; names this node on the bus
  unsigned presence_ttl = 15;         // seconds before a dead node's users are shown offline
  size_t threads = 0;                 // event loops; 0 = hardware threads
  size_t blocking_threads = 16;       // pool for store/hashing work
  size_t max_pending_tasks = 65536;   // blocking work queued before `unavailable`
  size_t max_line = 64 * 1024;        // bytes per request line
  size_t max_queued_bytes = 4 * 1024 * 1024;  // per-connection output bound
  unsigned idle_timeout = 300;                // seconds without input before closing
  std::string log_level = "info";
  std::string hash_cost = "interactive";  // argon2id cost: interactive | moderate | min
  unsigned token_ttl_hours = 24 * 7;
  // Abuse limits; 0 = unlimited. Bursts are twice the rate.
  double rate_per_connection = 100;       // messages/s on one connection
  double rate_per_user = 200;             // messages/s of one user on this node
  double login_failures_per_minute = 10;  // per name; 6x that per address
  size_t max_group_size = 1000;
  size_t max_friends = 1000;
  size_t max_connections = 100000;         // open connections on this node
  size_t max_connections_per_address = 0;  // from one client address (0 = unlimited)
  // Until a connection has logged in: the longest line in bytes (register
  // and login fit easily), and the seconds it has to log in, counted from
  // connect or logout whatever it sends meanwhile (0 = no limit).
  size_t max_line_before_login = 4096;
  unsigned handshake_timeout = 60;
  // TLS on the client port when both are set: PEM certificate chain and key.
  std::string tls_cert;
  std::string tls_key;
  uint16_t admin_port = 0;      // HTTP /metrics and /healthz on admin_host:admin_port (0 = off)
  std::string admin_host;       // defaults to host
  std::string admin_port_file;  // if set, the bound admin port is written there
  uint16_t web_port = 0;        // HTTP (web client) + WebSocket (/ws) on host:web_port (0 = off)
  std::string web_port_file;    // if set, the bound web port is written there
  std::string web_root;         // the web client's files; "" = look in the usual places
  std::string port_file;        // if set, the bound port is written there (tests, scripts)
  bool print_config = false;

  // The store URL in effect (store, or sqlite:<data>).
  std::string storeUrl() const { return store.empty() ? "sqlite:" + data : store; }
};

// Parses argv. Returns the exit code to use when the program should stop now
// (--help, --print-config, bad flags), or -1 to run.
int parseConfig(int argc, char** argv, Config* config);

// The effective configuration, as a TOML file that --config accepts.
std::string toToml(const Config& config);

}  // namespace parley::server
