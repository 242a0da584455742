#include "client/session_state.h"

#include <algorithm>
#include <chrono>

namespace parley::client {
namespace {

using nlohmann::json;

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How a typed command is named in "no answer" notes.
std::string describe(const Command& c) {
  switch (c.kind) {
    case CommandKind::kSend:
      return "the message to " + c.target;
    case CommandKind::kGroupSend:
      return "the message to #" + c.target;
    default:
      return "a request (" + requestBody(c).value_or(json::object()).value("op", "?") + ")";
  }
}

std::string errorCode(const json& r) {
  auto e = r.find("error");
  if (e == r.end() || !e->is_object()) return "";
  return e->value("code", "");
}

}  // namespace

void Output::append(Output other) {
  for (auto& l : other.print) print.push_back(std::move(l));
  for (auto& l : other.send) send.push_back(std::move(l));
  reconnect = reconnect || other.reconnect;
}

SessionState::SessionState(NowFn now) : now_(now ? std::move(now) : NowFn(systemNowMs)) {}

void SessionState::send(Output* out, Why why, const Command& cmd, json body) {
  auto stamped = builder_.stamp(std::move(body));
  pending_[stamped.rid] = Pending{why, cmd};
  out->send.push_back(std::move(stamped.line));
}

Output SessionState::submit(const Command& cmd) {
  Output out;
  if (cmd.kind == CommandKind::kChat) {
    if (cmd.target.empty()) {
      chat_.reset();
      out.print.push_back("* no current conversation: plain lines are not sent");
    } else {
      chat_ = ChatTarget{cmd.target, cmd.group};
      out.print.push_back("* plain lines now go to " + chat_->label());
    }
    return out;
  }
  auto body = requestBody(cmd);
  if (!body) return out;
  // While disconnected, and while the automatic re-login is on its way (a
  // request sent now would run before we are logged in again), lines wait.
  if (!sendsNow()) {
    if (queued_.size() >= kMaxQueued) {
      out.print.push_back("* not connected, and " + std::to_string(kMaxQueued) +
                          " lines are already waiting: this one is dropped");
      return out;
    }
    queued_.push_back(cmd);
    out.print.push_back(connected_ ? "* logging in again: will be sent right after"
                                   : "* not connected: will be sent after reconnecting");
    return out;
  }
  send(&out, Why::kTyped, cmd, std::move(*body));
  if (cmd.kind == CommandKind::kRegister) {
    Command login = cmd;
    login.kind = CommandKind::kLogin;
    send(&out, Why::kTyped, login, *requestBody(login));
  }
  return out;
}

Output SessionState::onServerLine(const std::string& line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    Output out;
    out.print.push_back("? unreadable line from the server: " + line.substr(0, 200));
    return out;
  }
  if (j.contains("event") && !j.contains("ok")) return onEvent(j);
  return onResponse(j);
}

void SessionState::loggedInAs(const json& r, const Command* login) {
  std::string name;
  if (auto u = r.find("user"); u != r.end() && u->is_object()) name = u->value("name", "");
  if (name.empty() && login) name = login->target;
  // Another user on this client: the ids seen belong to someone else's
  // inbox (group message ids are shared by all members), start afresh. The
  // same user again (after a /logout) keeps them: a message shown just
  // before the logout, whose ack the logout overtook, is replayed now.
  if (name != seen_for_) {
    seen_ids_.clear();
    seen_order_.clear();
    seen_for_ = name;
  }
  user_ = name;
  logged_in_ = true;
  if (auto t = r.find("token"); t != r.end() && t->is_string()) token_ = t->get<std::string>();
  if (login) password_ = login->password;
  // seq is per user and restarts from the ack point with the replay that
  // follows this answer.
  shown_seq_ = 0;
  acked_seq_ = 0;
}

Output SessionState::onResponse(const json& r) {
  Output out;
  Pending p;
  bool known = false;
  if (auto rid = r.find("rid"); rid != r.end() && rid->is_number_integer()) {
    auto it = pending_.find(rid->get<int64_t>());
    if (it != pending_.end()) {
      p = std::move(it->second);
      pending_.erase(it);
      known = true;
    }
  }
  const bool ok = r.value("ok", false);
  if (!known) {
    // Not ours (or a rid-less error such as too_large): show failures only.
    if (!ok) out.print.push_back(renderError(r));
    return out;
  }
  switch (p.why) {
    case Why::kAck:
    case Why::kKeepalive:
      // A failed ack only means those messages come again after the next
      // login, where the seen-id set hides them; nothing to tell the user.
      return out;
    case Why::kResume:
    case Why::kRelogin:
      resuming_ = false;
      if (ok) {
        loggedInAs(r, p.why == Why::kRelogin ? &p.cmd : nullptr);
        out.print.push_back(p.why == Why::kResume ? renderResumed(r).front()
                                                  : "* logged in again as " + user_);
        out.append(flushQueue());
        return out;
      }
      if (p.why == Why::kResume && errorCode(r) == "unauthorized" && !password_.empty()) {
        // The token expired or was revoked: log in with the password instead.
        token_.clear();
        Command login;
        login.kind = CommandKind::kLogin;
        login.target = user_;
        login.password = password_;
        send(&out, Why::kRelogin, login, *requestBody(login));
        resuming_ = true;
        return out;
      }
      if (errorCode(r) == "unavailable") {
        out.print.push_back("* " + renderError(r) + "; trying again shortly");
        out.reconnect = true;
        return out;
      }
      out.print.push_back("* could not log in again: " + renderError(r));
      out.print.push_back("* log in with /login NAME");
      token_.clear();
      user_.clear();
      password_.clear();
      out.append(dropQueue("not logged in"));
      return out;
    case Why::kTyped:
      break;
  }
  if (!ok) {
    out.print.push_back(renderError(r));
    return out;
  }
  if (p.cmd.kind == CommandKind::kLogin) loggedInAs(r, &p.cmd);
  if (p.cmd.kind == CommandKind::kLogout) {
    logged_in_ = false;
    user_.clear();
    token_.clear();
    password_.clear();
  }
  out.print = renderResponse(p.cmd, r, user_, now());
  return out;
}

bool SessionState::firstSighting(int64_t id) {
  if (!seen_ids_.insert(id).second) return false;
  seen_order_.push_back(id);
  if (seen_order_.size() > kMaxSeenIds) {
    seen_ids_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return true;
}

Output SessionState::onEvent(const json& e) {
  Output out;
  const std::string kind = e.value("event", "");
  if (kind == "message" || kind == "group_message") {
    // A duplicate still counts for the ack: it was delivered again because
    // the server has not seen our ack for it.
    if (auto s = e.find("seq"); s != e.end() && s->is_number_integer()) {
      shown_seq_ = std::max(shown_seq_, s->get<int64_t>());
    }
    if (auto id = e.find("id"); id != e.end() && id->is_number_integer()) {
      if (!firstSighting(id->get<int64_t>())) return out;
    }
  }
  out.print = renderEvent(e, user_, now());
  return out;
}

std::optional<std::string> SessionState::takeAck() {
  if (!connected_ || !logged_in_ || shown_seq_ <= acked_seq_) return std::nullopt;
  acked_seq_ = shown_seq_;
  Output out;
  send(&out, Why::kAck, Command{}, ackBody(acked_seq_));
  return std::move(out.send.front());
}

Output SessionState::onDisconnected() {
  Output out;
  connected_ = false;
  logged_in_ = false;
  resuming_ = false;
  size_t others = 0;
  // rids grow with time: report in the order the requests were made.
  std::vector<int64_t> rids;
  for (const auto& [rid, p] : pending_) {
    if (p.why == Why::kTyped) rids.push_back(rid);
  }
  std::sort(rids.begin(), rids.end());
  for (int64_t rid : rids) {
    const Command& c = pending_[rid].cmd;
    if (c.kind == CommandKind::kSend || c.kind == CommandKind::kGroupSend) {
      // Not resent automatically: it may have been stored just before the
      // connection broke, and sending it again would show it twice.
      out.print.push_back("* " + describe(c) + " may not have been sent (\"" + c.text +
                          "\"); check /history " + (c.kind == CommandKind::kGroupSend ? "#" : "") +
                          c.target);
    } else {
      ++others;
    }
  }
  if (others > 0) {
    out.print.push_back("* " + std::to_string(others) +
                        " request(s) got no answer before the connection broke");
  }
  pending_.clear();
  // What was shown but maybe not acked comes again after resume; the seen-id
  // set keeps it off the screen and the new ack covers it.
  shown_seq_ = 0;
  acked_seq_ = 0;
  return out;
}

Output SessionState::onConnected() {
  Output out;
  connected_ = true;
  if (!token_.empty()) {
    Command c;
    c.target = user_;
    send(&out, Why::kResume, c, resumeBody(token_));
    resuming_ = true;
    return out;  // the queue goes out once the resume succeeded
  }
  out.append(flushQueue());
  return out;
}

Output SessionState::keepalive() {
  Output out;
  if (connected_) send(&out, Why::kKeepalive, Command{}, json{{"op", "ping"}});
  return out;
}

Output SessionState::flushQueue() {
  Output out;
  while (!queued_.empty() && connected_ && !resuming_) {
    Command c = std::move(queued_.front());
    queued_.pop_front();
    out.append(submit(c));
  }
  return out;
}

Output SessionState::dropQueue(const std::string& why) {
  Output out;
  if (!queued_.empty()) {
    out.print.push_back("* " + std::to_string(queued_.size()) +
                        " line(s) typed while disconnected were not sent: " + why);
  }
  queued_.clear();
  return out;
}

std::string SessionState::prompt() const {
  std::string p = user_.empty() ? "parley" : user_;
  if (chat_) p += "@" + chat_->label();
  if (!connected_) {
    p += " (reconnecting)";
  } else if (!logged_in_ && !user_.empty()) {
    p += " (logging in)";
  }
  return p + "> ";
}

}  // namespace parley::client
