// parley: the command-line chat client. The terminal side lives here: a
// poll() loop over stdin and the server socket, readline's callback mode so
// incoming messages print above the line being typed without garbling it,
// password prompts without echo, and reconnect + resume when the connection
// drops. Everything that can be tested without a terminal is in the library
// (command.h, client_state.h).
#include <poll.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "client/client_state.h"
#include "client/command.h"
#include "client/line_socket.h"

namespace {

using parley::client::Action;
using parley::client::ChatTarget;
using parley::client::ClientState;
using parley::client::LineSocket;

struct App {
  std::string host = "127.0.0.1";
  uint16_t port = 7000;
  std::string user;
  std::string password_file;
  bool do_register = false;
  bool interactive = false;  // stdin is a terminal
  bool quit = false;
  // True while readline runs our line handler: the cursor then sits on a
  // fresh line and readline redraws the prompt itself when we return.
  bool in_line_handler = false;
  LineSocket socket;
  ClientState state;
  std::optional<ChatTarget> chat;
};

App* g_app = nullptr;  // readline's callback takes no context pointer

}  // namespace

void onTypedLine(char* raw);
void handleTypedLine(const std::string& line);

namespace {

// Prints above the prompt, keeping what the user is typing intact.
void printAbove(const std::string& text) {
  if (!g_app->interactive || g_app->in_line_handler) {
    std::cout << text << std::endl;
    return;
  }
  char* saved = rl_copy_text(0, rl_end);
  int saved_point = rl_point;
  rl_set_prompt("");
  rl_replace_line("", 0);
  rl_redisplay();
  std::cout << "\r\033[K" << text << std::endl;
  rl_replace_line(saved, 0);
  rl_point = saved_point;
  std::string prompt = g_app->state.loggedIn() ? g_app->state.user() : std::string("parley");
  if (g_app->chat) prompt += "@" + g_app->chat->label();
  prompt += "> ";
  rl_set_prompt(prompt.c_str());
  rl_redisplay();
  free(saved);
}

void updatePrompt() {
  if (!g_app->interactive) return;
  std::string prompt = g_app->state.loggedIn() ? g_app->state.user() : std::string("parley");
  if (g_app->chat) prompt += "@" + g_app->chat->label();
  prompt += "> ";
  rl_set_prompt(prompt.c_str());
  if (!g_app->in_line_handler) rl_redisplay();
}

// Reads one line from the terminal without echo (or from a pipe as is).
std::string readSecret(const std::string& prompt) {
  if (const char* env = std::getenv("PARLEY_PASSWORD")) return env;
  if (!g_app->password_file.empty()) {
    std::ifstream in(g_app->password_file);
    std::string pw;
    std::getline(in, pw);
    return pw;
  }
  std::string pw;
  if (!isatty(STDIN_FILENO)) {
    std::getline(std::cin, pw);
    return pw;
  }
  std::cout << prompt << std::flush;
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::getline(std::cin, pw);
  tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cout << std::endl;
  return pw;
}

void send(const std::string& line) {
  if (!g_app->socket.sendLine(line)) printAbove("* not connected; the line was not sent");
}

void loginAs(const std::string& name, bool register_first) {
  if (g_app->interactive) rl_callback_handler_remove();
  std::string pw = readSecret("password for " + name + ": ");
  if (register_first) {
    // Sent back to back: responses come in order, so the login's answer
    // follows the registration's.
    send(g_app->state.prepare({{"op", "register"}, {"name", name}, {"password", pw}}));
  }
  send(g_app->state.prepare({{"op", "login"}, {"name", name}, {"password", pw}}));
  if (g_app->interactive) rl_callback_handler_install("", onTypedLine);
  updatePrompt();
}

}  // namespace

void onTypedLine(char* raw) {
  if (!raw) {  // Ctrl-D
    g_app->quit = true;
    return;
  }
  std::string line(raw);
  free(raw);
  g_app->in_line_handler = true;
  handleTypedLine(line);
  g_app->in_line_handler = false;
}

void handleTypedLine(const std::string& line) {
  if (!line.empty() && g_app->interactive) add_history(line.c_str());
  auto cmd = parley::client::parseCommand(line, g_app->chat);
  switch (cmd.action) {
    case Action::kRequest:
      send(g_app->state.prepare(cmd.request));
      if (g_app->interactive &&
          (cmd.request["op"] == "send" || cmd.request["op"] == "group_send")) {
        // Show our own line like every chat client does; the server does
        // not echo it back.
        nlohmann::json mine{{"from", g_app->state.user()},
                            {"text", cmd.request["text"]},
                            {"ts", std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()}};
        if (cmd.request.contains("group")) mine["group"] = cmd.request["group"];
        printAbove(parley::client::renderMessage(mine));
      }
      break;
    case Action::kRegister:
    case Action::kLogin:
      loginAs(cmd.name, cmd.action == Action::kRegister);
      break;
    case Action::kSetChat:
      g_app->chat = cmd.chat;
      printAbove("* plain lines now go to " + cmd.chat.label());
      updatePrompt();
      break;
    case Action::kHelp:
      printAbove(parley::client::helpText());
      break;
    case Action::kQuit:
      g_app->quit = true;
      break;
    case Action::kError:
      printAbove(cmd.error);
      break;
    case Action::kNothing:
      break;
  }
}

namespace {

bool connectWithRetry() {
  std::string error;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (g_app->socket.connect(g_app->host, g_app->port, &error)) return true;
    int wait_s = std::min(1 << attempt, 10);
    printAbove("* cannot connect to " + g_app->host + ":" + std::to_string(g_app->port) + " (" +
               error + "), retrying in " + std::to_string(wait_s) + " s");
    std::this_thread::sleep_for(std::chrono::seconds(wait_s));
  }
  return false;
}

void handleServer() {
  std::vector<std::string> lines;
  if (!g_app->socket.readLines(&lines)) {
    for (const auto& l : lines)
      for (const auto& out : g_app->state.onServerLine(l)) printAbove(out);
    g_app->socket.close();
    g_app->state.connectionLost();
    printAbove("* connection lost; reconnecting");
    if (!connectWithRetry()) {
      printAbove("* giving up");
      g_app->quit = true;
      return;
    }
    if (auto resume = g_app->state.resumeRequest()) send(*resume);
    printAbove("* reconnected");
    updatePrompt();
    return;
  }
  for (const auto& l : lines) {
    for (const auto& out : g_app->state.onServerLine(l)) printAbove(out);
  }
  if (auto ack = g_app->state.takeAck()) send(*ack);
  updatePrompt();
}

void firstLogin() {
  if (!g_app->user.empty()) {
    loginAs(g_app->user, g_app->do_register);
    return;
  }
  if (!g_app->interactive) return;  // piped: the script types /login itself
  std::string answer, name;
  while (answer != "l" && answer != "r") {
    std::cout << "(l)ogin or (r)egister? " << std::flush;
    if (!std::getline(std::cin, answer)) return;
  }
  while (name.empty()) {
    std::cout << "name: " << std::flush;
    if (!std::getline(std::cin, name)) return;
  }
  loginAs(name, answer == "r");
}

}  // namespace

int main(int argc, char** argv) {
  App app;
  g_app = &app;
  CLI::App cli{"parley: chat from the terminal. Type /help once connected."};
  cli.add_option("--host", app.host, "Server address")->capture_default_str();
  cli.add_option("--port", app.port, "Server port")->capture_default_str();
  cli.add_option("--user", app.user, "Log in as this user at start");
  cli.add_option("--password-file", app.password_file,
                 "Read the password from this file (or set PARLEY_PASSWORD)");
  cli.add_flag("--register", app.do_register, "Register --user first, then log in");
  CLI11_PARSE(cli, argc, argv);

  app.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  std::string error;
  if (!app.socket.connect(app.host, app.port, &error)) {
    std::cerr << "cannot connect to " << app.host << ":" << app.port << ": " << error << "\n";
    return 1;
  }
  std::cout << "connected to " << app.host << ":" << app.port << " (/help for commands)\n";
  firstLogin();
  if (app.interactive) {
    rl_callback_handler_install("parley> ", onTypedLine);
    updatePrompt();
  }

  std::string pending_stdin;
  while (!app.quit) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {app.socket.fd(), POLLIN, 0}};
    if (poll(fds, 2, 1000) < 0) continue;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) handleServer();
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      if (app.interactive) {
        rl_callback_read_char();
      } else {
        std::string line;
        if (!std::getline(std::cin, line)) {
          // End of piped input: give the server a moment to answer the last
          // requests, print what arrives, then leave.
          for (int i = 0; i < 10; ++i) {
            pollfd s{app.socket.fd(), POLLIN, 0};
            if (poll(&s, 1, 100) > 0) handleServer();
          }
          break;
        }
        onTypedLine(strdup(line.c_str()));
      }
    }
  }
  if (app.interactive) {
    rl_callback_handler_remove();
    std::cout << std::endl;
  }
  return 0;
}
