// parley: the command-line chat client. Flags here; the terminal loop is in
// terminal.cc and everything testable without a terminal in the library
// (command, request, render, session_state, backoff, line_buffer).
#include <CLI/CLI.hpp>

#include "client/terminal.h"

int main(int argc, char** argv) {
  parley::client::ClientOptions options;
  CLI::App cli{
      "parley: chat from the terminal (speaks the Parley wire protocol over TCP).\n"
      "Without --user it asks whether to log in or register. Type /help once connected.\n"
      "When stdin is not a terminal it reads commands line by line and exits at the end\n"
      "of its input, once every request has been answered."};
  cli.add_option("--host", options.host, "Server address or name")->capture_default_str();
  cli.add_option("--port", options.port, "Server port")->capture_default_str();
  cli.add_option("--user", options.user, "Log in as this user at start");
  cli.add_option("--password-file", options.password_file,
                 "Read the password (first line) from this file; else $PARLEY_PASSWORD; else it "
                 "is asked for without echo (or read as the next input line from a pipe). Used "
                 "for every login of the session.")
      ->check(CLI::ExistingFile);
  cli.add_flag("--register", options.register_first, "Register --user first (then log in as it)")
      ->needs(cli.get_option("--user"));
  cli.add_flag("--tls", options.tls,
               "Connect with TLS; the server's certificate must be valid for --host");
  cli.add_option("--tls-ca", options.tls_ca,
                 "Trust the CA certificates in this PEM file (e.g. the server's self-signed "
                 "certificate) instead of the system's; implies --tls")
      ->check(CLI::ExistingFile);
  CLI11_PARSE(cli, argc, argv);
  if (!options.tls_ca.empty()) options.tls = true;
  return parley::client::runTerminal(options);
}
