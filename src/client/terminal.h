// The terminal side of `parley`: one thread, one poll() loop over stdin and
// the server socket. On a terminal it uses readline's callback interface, so
// messages that arrive while the user types are printed above the prompt and
// the half-typed line is redrawn intact. When stdin is not a terminal (a
// script, a test) it reads plain lines and exits once its input has ended and
// every request has been answered. All decisions are in SessionState; this
// file only moves bytes and keeps time.
#pragma once

#include <cstdint>
#include <string>

namespace parley::client {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7000;
  std::string user;           // log in (or register) as this user at start
  std::string password_file;  // first line is the password
  bool register_first = false;
  bool tls = false;    // connect with TLS
  std::string tls_ca;  // trust these CA certificates (PEM) instead of the system's
};

// Runs the client until /quit, end of input, or giving up on the server.
// Returns the process exit code: 0, or 1 when the server cannot be reached.
int runTerminal(const ClientOptions& options);

}  // namespace parley::client
