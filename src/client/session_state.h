// SessionState: everything the `parley` client remembers about its
// conversation with the server, and the decisions made from it. It is fed
// events (a typed command, a line from the server, the connection going down
// or coming up) and answers with what to print and what to send. It does no
// I/O itself, so tests drive it line by line without a terminal or a socket.
//
// What it keeps:
//  - pending requests by rid, so each answer is rendered for what was asked;
//  - message ids already shown: PROTOCOL.md redelivers what was not acked,
//    the client shows each message once;
//  - the highest `seq` shown, acked with one `ack` per burst of lines
//    (takeAck() after each burst), not one per message;
//  - the login (user, resume token, password) so that after a dropped
//    connection it sends `resume` on the new one, falls back to a fresh
//    `login` when the token is no longer valid, and then sends what the user
//    typed while disconnected.
// Not thread-safe: the client has one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "client/command.h"
#include "client/render.h"
#include "client/request.h"

namespace parley::client {

// What the terminal loop should do after an event.
struct Output {
  Lines print;                    // lines for the screen, in order
  std::vector<std::string> send;  // request lines for the server, in order (no '\n')
  // The server cannot serve us now (`unavailable` on resume): drop this
  // connection and reconnect after a backoff.
  bool reconnect = false;

  void append(Output other);
};

class SessionState {
 public:
  // Milliseconds since the Unix epoch; used only to render dates.
  using NowFn = std::function<int64_t()>;

  // Lines typed while disconnected are kept for the next connection, up to
  // this many; the rest are refused with a message.
  static constexpr size_t kMaxQueued = 100;
  // Message ids remembered for deduplication. Duplicates come only from the
  // unacked tail after a reconnect (acks go out after every burst), so a
  // window of this many recent ids is plenty.
  static constexpr size_t kMaxSeenIds = 10000;

  explicit SessionState(NowFn now = nullptr);

  // A command typed by the user. Requests are sent (or queued while
  // disconnected); kRegister sends `register` and `login` back to back (the
  // server answers in order, so commands typed next run after the login);
  // kChat changes the current conversation. kNone, kHelp and kQuit are the
  // caller's: they produce nothing here.
  Output submit(const Command& cmd);

  // One line from the server (without the '\n').
  Output onServerLine(const std::string& line);

  // The ack to send at the end of a burst of server lines: set when a message
  // with a higher seq than the last ack was seen (shown or a duplicate).
  std::optional<std::string> takeAck();

  // The connection broke. Pending requests will get no answer: says which
  // messages may not have been stored. The login is kept for resume.
  Output onDisconnected();
  // A new connection is up: `resume` when there was a login, else the lines
  // queued while disconnected.
  Output onConnected();
  // A `ping` to keep an idle connection open (its answer is not shown).
  Output keepalive();

  bool connected() const { return connected_; }
  // A request submitted now is sent at once, not queued (connected, and no
  // automatic re-login on its way).
  bool sendsNow() const { return connected_ && !resuming_; }
  bool loggedIn() const { return logged_in_; }
  // The user logged in, or the one being resumed; empty before any login.
  const std::string& user() const { return user_; }
  const std::string& token() const { return token_; }
  const std::optional<ChatTarget>& currentChat() const { return chat_; }
  size_t pendingCount() const { return pending_.size(); }
  size_t queuedCount() const { return queued_.size(); }
  int64_t shownSeq() const { return shown_seq_; }
  // "alice@#devs> ", "parley> ", "alice (reconnecting)> ".
  std::string prompt() const;

 private:
  enum class Why {
    kTyped,      // the user asked; its answer is rendered
    kAck,        // our own ack; silent
    kKeepalive,  // our own ping; silent
    kResume,     // automatic, after a reconnect
    kRelogin,    // automatic login with the remembered password, when resume failed
  };
  struct Pending {
    Why why = Why::kTyped;
    Command cmd;
  };

  void send(Output* out, Why why, const Command& cmd, nlohmann::json body);
  Output onResponse(const nlohmann::json& r);
  Output onEvent(const nlohmann::json& e);
  void loggedInAs(const nlohmann::json& r, const Command* login);
  Output flushQueue();
  Output dropQueue(const std::string& why);
  bool firstSighting(int64_t id);
  int64_t now() const { return now_(); }

  NowFn now_;
  RequestBuilder builder_;
  std::unordered_map<int64_t, Pending> pending_;  // rid -> what it was
  std::deque<Command> queued_;                    // typed while disconnected
  bool connected_ = false;
  bool logged_in_ = false;
  bool resuming_ = false;  // a resume (or the login replacing it) is unanswered
  std::string user_;
  std::string token_;
  // The password of the last successful login, for logging in again when a
  // resume token has expired. Kept in memory only, forgotten at /logout.
  std::string password_;
  std::optional<ChatTarget> chat_;
  int64_t shown_seq_ = 0;  // highest seq received on this login
  int64_t acked_seq_ = 0;  // highest seq acked on this connection
  std::string seen_for_;   // the user whose messages seen_ids_ holds
  std::unordered_set<int64_t> seen_ids_;
  std::deque<int64_t> seen_order_;  // oldest first, to bound seen_ids_
};

}  // namespace parley::client
