#include "client/terminal.h"

#include <poll.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "client/backoff.h"
#include "client/command.h"
#include "client/line_buffer.h"
#include "client/line_socket.h"
#include "client/render.h"
#include "client/session_state.h"

namespace parley::client {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Each connection attempt gets this long per address.
constexpr milliseconds kConnectTimeout{3000};
// A ping after this long without sending anything: the server closes
// connections idle for --idle-timeout (300 s by default).
constexpr milliseconds kKeepalive{30000};
// Leaving (/quit, Ctrl-D, end of piped input) waits for the answers to what
// was sent, then for the server to be quiet this long (the replay that
// follows a login arrives just after its answer), at most the drain limit.
constexpr milliseconds kQuietBeforeExit{300};
constexpr milliseconds kDrainInteractive{3000};
constexpr milliseconds kDrainPiped{15000};
// Piped input runs one line at a time: the next line is taken once every
// request sent so far has its answer. A script's output then reads as a
// transcript (each answer right after its command, local errors in place),
// and a long script cannot fill the socket while nobody reads the answers.
// On loopback this costs well under a millisecond per line.
constexpr size_t kPipedInFlight = 1;
// A script gives up after this many failed reconnects (about 40 s); a person
// at a terminal is never given up on (they can type /quit).
constexpr int kPipedReconnectAttempts = 8;

// The terminal settings to put back if a signal arrives while echo is off.
termios g_saved_termios;
volatile sig_atomic_t g_echo_off = 0;

void restoreEchoAndDie(int sig) {
  if (g_echo_off) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::string seconds(milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

Lines splitLines(const std::string& text) {
  Lines out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class Shell;
Shell* g_shell = nullptr;  // readline's line callback takes no context pointer
void onReadlineLine(char* line);

class Shell {
 public:
  explicit Shell(const ClientOptions& options)
      : options_(options),
        interactive_(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)),
        backoff_(Backoff::Options{
            .max_attempts =
                interactive_ ? std::nullopt : std::optional<int>(kPipedReconnectAttempts),
        }) {}

  int run() {
    std::string error;
    if (options_.tls) socket_.useTls(options_.tls_ca);
    if (!socket_.connect(options_.host, options_.port, kConnectTimeout, &error)) {
      std::fprintf(stderr, "parley: cannot connect to %s:%u: %s\n", options_.host.c_str(),
                   options_.port, error.c_str());
      return 1;
    }
    last_sent_ = last_received_ = Clock::now();
    apply(session_.onConnected());
    print({"connected to " + options_.host + ":" + std::to_string(options_.port) +
           " (/help lists the commands)"});
    if (!startupLogin()) return 0;
    if (interactive_) {
      g_shell = this;
      rl_callback_handler_install(session_.prompt().c_str(), onReadlineLine);
      readline_active_ = true;
      prompt_ = session_.prompt();
    }
    loop();
    if (readline_active_) {
      rl_callback_handler_remove();
      readline_active_ = false;
      std::fputs("\n", stdout);
    }
    std::fflush(stdout);
    return exit_code_;
  }

  // A line from readline (nullptr: Ctrl-D on an empty line).
  void onReadline(char* raw) {
    in_handler_ = true;
    if (!raw) {
      quit();
    } else {
      std::string line(raw);
      std::free(raw);
      if (!line.empty()) add_history(line.c_str());
      onTypedLine(line);
    }
    refreshPrompt();
    in_handler_ = false;
  }

 private:
  void loop() {
    while (true) {
      const auto now = Clock::now();
      if (quitting_ && doneDraining(now)) return;
      if (!quitting_) processBufferedInput();
      if (quitting_ && doneDraining(now)) return;

      milliseconds timeout = kKeepalive;
      auto until = [&](Clock::time_point t) {
        // Rounded up: rounded down, poll() would wake just before `t` and
        // spin until it.
        auto d = std::chrono::ceil<milliseconds>(t - now);
        timeout = std::clamp(d, milliseconds(0), timeout);
      };
      if (reconnect_at_) until(*reconnect_at_);
      if (socket_.connected()) until(last_sent_ + kKeepalive);
      // A reconnect in progress waits in this poll too, so typing and
      // /quit are never held up by a server that does not answer.
      const bool connecting = socket_.connecting();
      if (connecting) until(socket_.deadline());
      if (quitting_) timeout = std::min(timeout, milliseconds(50));

      pollfd fds[2] = {{-1, POLLIN, 0},
                       {socket_.fd(), connecting ? socket_.waitEvents() : short{POLLIN}, 0}};
      // Piped input waits while disconnected (and while logging in again):
      // a script's lines are sent once the session is back, or the client
      // gives up on it; never queued past the queue's bound, or dropped at
      // the end of the input.
      const bool want_input =
          !quitting_ && !stdin_eof_ &&
          (interactive_ || (session_.sendsNow() && session_.pendingCount() < kPipedInFlight));
      if (want_input) fds[0].fd = STDIN_FILENO;
      int n = ::poll(fds, 2, static_cast<int>(timeout.count()));
      if (n < 0 && errno != EINTR) {
        print({"* poll failed: " + std::string(std::strerror(errno))});
        exit_code_ = 1;
        return;
      }
      if (connecting) {
        if (fds[1].revents != 0 || Clock::now() >= socket_.deadline()) {
          std::string error;
          onConnectStep(socket_.continueConnect(&error), error);
        }
      } else if (n > 0 && socket_.connected() && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        onSocketReadable();
      }
      if (n > 0 && fds[0].fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        if (interactive_) {
          rl_callback_read_char();
        } else {
          readPipedInput();
        }
      }
      const auto later = Clock::now();
      if (reconnect_at_ && later >= *reconnect_at_) tryReconnect();
      if (socket_.connected() && later - last_sent_ >= kKeepalive) apply(session_.keepalive());
      refreshPrompt();
    }
  }

  // --- leaving -------------------------------------------------------------

  void quit() {
    if (quitting_) return;
    quitting_ = true;
    drain_deadline_ = Clock::now() + (interactive_ ? kDrainInteractive : kDrainPiped);
  }

  bool doneDraining(Clock::time_point now) {
    if (!socket_.connected()) {
      if (session_.queuedCount() > 0) {
        print({"* " + std::to_string(session_.queuedCount()) +
               " line(s) typed while disconnected were not sent"});
      }
      return true;
    }
    if (now >= drain_deadline_) {
      if (session_.pendingCount() > 0) {
        print({"* leaving with " + std::to_string(session_.pendingCount()) +
               " request(s) unanswered"});
      }
      return true;
    }
    return session_.pendingCount() == 0 && session_.queuedCount() == 0 &&
           now - last_received_ >= kQuietBeforeExit;
  }

  // --- output --------------------------------------------------------------

  // Prints above the prompt without disturbing what the user is typing: save
  // the line and cursor, blank the line, print, then let readline redraw the
  // prompt and the saved line on a fresh line.
  void print(const Lines& lines) {
    if (lines.empty()) return;
    const bool above = readline_active_ && !in_handler_;
    char* saved_line = nullptr;
    int saved_point = 0;
    if (above) {
      saved_point = rl_point;
      saved_line = rl_copy_text(0, rl_end);
      rl_save_prompt();
      rl_replace_line("", 0);
      rl_redisplay();
    }
    for (const auto& l : lines) {
      std::string safe = sanitizeForTerminal(l);
      std::fputs(safe.c_str(), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
    if (above) {
      rl_restore_prompt();
      rl_replace_line(saved_line, 0);
      rl_point = saved_point;
      rl_on_new_line();
      rl_redisplay();
      std::free(saved_line);
    }
  }

  void refreshPrompt() {
    if (!readline_active_) return;
    std::string p = session_.prompt();
    if (p == prompt_) return;
    prompt_ = p;
    rl_set_prompt(p.c_str());
    // Inside the line handler readline draws the new prompt itself on return.
    if (!in_handler_) rl_redisplay();
  }

  // Prints, then sends, what SessionState decided.
  void apply(Output out) {
    print(out.print);
    for (const auto& line : out.send) {
      if (!socket_.sendLine(line)) {
        connectionLost("sending failed");
        return;
      }
      last_sent_ = Clock::now();
    }
    if (out.reconnect) connectionLost("the server is unavailable");
  }

  // --- the server ----------------------------------------------------------

  void onSocketReadable() {
    const bool open = socket_.readAvailable();
    // One burst: render every complete line, then send at most one ack.
    while (socket_.connected()) {
      auto line = socket_.popLine();
      if (!line) break;
      last_received_ = Clock::now();
      backoff_.reset();  // the server talks to us: the next outage starts from scratch
      apply(session_.onServerLine(*line));
    }
    if (!socket_.connected()) return;
    if (auto ack = session_.takeAck()) apply(Output{{}, {*ack}, false});
    if (!socket_.connected()) return;
    if (socket_.overflowed()) {
      connectionLost("the server sent an over-long line");
    } else if (!open) {
      connectionLost("the server closed the connection");
    }
  }

  void connectionLost(const std::string& why) {
    if (!socket_.connected()) return;
    socket_.close();
    Output out = session_.onDisconnected();
    out.print.insert(out.print.begin(), "* connection lost: " + why);
    print(out.print);
    scheduleReconnect("");
    refreshPrompt();
  }

  void scheduleReconnect(const std::string& failure) {
    auto delay = backoff_.next();
    if (!delay || quitting_) {
      if (!quitting_)
        print({"* giving up on " + options_.host + ":" + std::to_string(options_.port)});
      exit_code_ = quitting_ ? exit_code_ : 1;
      quit();
      reconnect_at_.reset();
      return;
    }
    print({"* " + (failure.empty() ? "" : failure + "; ") + "reconnecting in " + seconds(*delay)});
    reconnect_at_ = Clock::now() + *delay;
  }

  void tryReconnect() {
    reconnect_at_.reset();
    std::string error;
    onConnectStep(socket_.beginConnect(options_.host, options_.port, kConnectTimeout, &error),
                  error);
  }

  // Where a reconnect got to: pending ones go on in loop()'s poll.
  void onConnectStep(LineSocket::Step step, const std::string& error) {
    if (step == LineSocket::Step::kPending) return;
    if (step == LineSocket::Step::kFailed) {
      scheduleReconnect("cannot connect to " + options_.host + ":" + std::to_string(options_.port) +
                        " (" + error + ")");
      return;
    }
    last_sent_ = last_received_ = Clock::now();
    print({"* connected to " + options_.host + ":" + std::to_string(options_.port) + " again"});
    apply(session_.onConnected());
  }

  // --- input ---------------------------------------------------------------

  void onTypedLine(const std::string& line) {
    auto parsed = parseCommand(line, session_.currentChat());
    if (!parsed.ok()) {
      print({parsed.status().message()});
      return;
    }
    Command cmd = std::move(parsed).value();
    switch (cmd.kind) {
      case CommandKind::kNone:
        return;
      case CommandKind::kHelp:
        print(splitLines(helpText()));
        return;
      case CommandKind::kQuit:
        quit();
        return;
      case CommandKind::kRegister:
      case CommandKind::kLogin: {
        auto pw = askPassword(cmd.target, cmd.kind == CommandKind::kRegister);
        if (!pw) {
          print({"* no password given: not logged in"});
          return;
        }
        cmd.password = *pw;
        break;
      }
      default:
        break;
    }
    apply(session_.submit(cmd));
  }

  // Lines from a pipe: read what is there; complete lines are handled by
  // processBufferedInput (which stops while too many requests wait).
  void readPipedInput() {
    char buf[65536];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n > 0) {
      stdin_.append(buf, static_cast<size_t>(n));
      return;
    }
    stdin_eof_ = true;
  }

  void processBufferedInput() {
    if (interactive_) return;
    while (!quitting_ && session_.sendsNow() && session_.pendingCount() < kPipedInFlight) {
      auto line = stdin_.pop();
      if (!line) {
        if (!stdin_eof_) return;
        // The input has ended; a last line may lack its '\n'.
        std::string rest = stdin_.takeRest();
        if (!rest.empty()) onTypedLine(rest);
        quit();
        return;
      }
      onTypedLine(*line);
    }
  }

  // The next line of piped input, waiting for it if needed.
  std::optional<std::string> nextPipedLine() {
    while (true) {
      if (auto line = stdin_.pop()) return line;
      if (stdin_eof_) {
        std::string rest = stdin_.takeRest();
        if (rest.empty()) return std::nullopt;
        return rest;
      }
      readPipedInput();
    }
  }

  // Reads a line from the terminal with echo off.
  std::optional<std::string> readHidden(const std::string& prompt) {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
    termios old{};
    const bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
      g_saved_termios = old;
      g_echo_off = 1;
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ICANON | ECHONL;
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    auto old_int = std::signal(SIGINT, restoreEchoAndDie);
    auto old_term = std::signal(SIGTERM, restoreEchoAndDie);
    std::string line;
    bool got = false;
    char c;
    while (true) {
      ssize_t n = ::read(STDIN_FILENO, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got = true;
      if (c == '\n') break;
      line += c;
    }
    if (tty) {
      tcsetattr(STDIN_FILENO, TCSANOW, &old);
      g_echo_off = 0;
    }
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    if (!got) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

  // The password: from --password-file, else $PARLEY_PASSWORD, else asked
  // for (without echo on a terminal; the next input line from a pipe).
  std::optional<std::string> askPassword(const std::string& name, bool confirm) {
    if (!options_.password_file.empty()) {
      std::ifstream in(options_.password_file);
      std::string pw;
      if (!in || !std::getline(in, pw)) {
        print({"* cannot read the password from " + options_.password_file});
        return std::nullopt;
      }
      if (!pw.empty() && pw.back() == '\r') pw.pop_back();
      return pw;
    }
    if (const char* env = std::getenv("PARLEY_PASSWORD")) return std::string(env);
    if (!isatty(STDIN_FILENO)) return nextPipedLine();
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto pw = readHidden("password for " + name + ": ");
      if (!pw || !confirm) return pw;
      auto again = readHidden("the same password again: ");
      if (!again) return std::nullopt;
      if (*pw == *again) return pw;
      std::fputs("the two passwords differ, once more\n", stdout);
    }
    return std::nullopt;
  }

  // Before the prompt: log in as --user, or (on a terminal) ask.
  // False when the user left at the question.
  bool startupLogin() {
    Command cmd;
    if (!options_.user.empty()) {
      cmd.kind = options_.register_first ? CommandKind::kRegister : CommandKind::kLogin;
      cmd.target = options_.user;
    } else if (interactive_) {
      std::string answer;
      while (answer != "l" && answer != "r") {
        char* raw = readline("(l)ogin or (r)egister? ");
        if (!raw) return false;
        answer = raw;
        std::free(raw);
        if (answer == "login") answer = "l";
        if (answer == "register") answer = "r";
        if (answer == "q" || answer == "quit") return false;
      }
      while (cmd.target.empty()) {
        char* raw = readline("name: ");
        if (!raw) return false;
        cmd.target = raw;
        std::free(raw);
        while (!cmd.target.empty() && cmd.target.back() == ' ') cmd.target.pop_back();
      }
      cmd.kind = answer == "r" ? CommandKind::kRegister : CommandKind::kLogin;
    } else {
      return true;  // a script logs in itself with /login
    }
    auto pw = askPassword(cmd.target, cmd.kind == CommandKind::kRegister && interactive_);
    if (!pw) {
      print({"* no password given: not logged in (use /login NAME)"});
      return true;
    }
    cmd.password = *pw;
    apply(session_.submit(cmd));
    return true;
  }

  ClientOptions options_;
  const bool interactive_;  // stdin and stdout are a terminal: readline
  bool readline_active_ = false;
  bool in_handler_ = false;  // inside the readline line callback
  std::string prompt_;
  LineSocket socket_;
  SessionState session_;
  Backoff backoff_;
  LineBuffer stdin_;  // piped input not yet handled
  bool stdin_eof_ = false;
  bool quitting_ = false;
  Clock::time_point drain_deadline_;
  std::optional<Clock::time_point> reconnect_at_;
  Clock::time_point last_sent_;
  Clock::time_point last_received_;
  int exit_code_ = 0;
};

void onReadlineLine(char* line) { g_shell->onReadline(line); }

}  // namespace

int runTerminal(const ClientOptions& options) {
  Shell shell(options);
  return shell.run();
}

}  // namespace parley::client
