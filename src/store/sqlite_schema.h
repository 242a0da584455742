// The SQLite schema, by version. A new version appends a migration; an
// existing one is never edited (deployed databases already ran it).
#pragma once

namespace parley::sqlite_schema {

inline constexpr const char* kMigrations[] = {
    // Version 1.
    R"sql(
CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  last_seq      INTEGER NOT NULL DEFAULT 0,  -- highest inbox seq assigned
  ack_seq       INTEGER NOT NULL DEFAULT 0,  -- every seq <= it is acknowledged
  created_ms    INTEGER NOT NULL
);
-- Friendship is mutual and stored both ways, so "my friends" is one range scan.
CREATE TABLE friendships (
  user_id    INTEGER NOT NULL REFERENCES users(id),
  friend_id  INTEGER NOT NULL REFERENCES users(id),
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (user_id, friend_id)
) WITHOUT ROWID;
CREATE TABLE chat_groups (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
  description TEXT NOT NULL DEFAULT '',
  created_ms  INTEGER NOT NULL
);
CREATE TABLE group_members (
  group_id  INTEGER NOT NULL REFERENCES chat_groups(id),
  user_id   INTEGER NOT NULL REFERENCES users(id),
  role      TEXT NOT NULL,
  joined_ms INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members(user_id, group_id);
-- Every message is stored once. `chat` names the conversation ('d:<lo>:<hi>'
-- for two users, 'g:<id>' for a group) so history is one index range.
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  chat         TEXT NOT NULL,
  sender_id    INTEGER NOT NULL,
  recipient_id INTEGER,
  group_id     INTEGER,
  body         TEXT NOT NULL,
  ts           INTEGER NOT NULL
);
CREATE INDEX messages_by_chat ON messages(chat, id);
-- Each recipient's queue: its own gap-free seq, pointing at the message.
CREATE TABLE inbox (
  user_id    INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  message_id INTEGER NOT NULL,
  PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE TABLE tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // Version 2: expired tokens are purged at login, oldest first.
    R"sql(
CREATE INDEX tokens_by_expiry ON tokens(expires_ms);
)sql",
    // Version 3: a user's highest seq is the inbox's own MAX(seq) (inbox rows
    // are never deleted); keeping a copy in users cost an UPDATE per
    // recipient per commit.
    R"sql(
ALTER TABLE users DROP COLUMN last_seq;
)sql",
    // Version 4: a recipient's seq is the message id. One writer assigns ids
    // in commit order, so every recipient sees its messages' ids strictly
    // increase; seqs need not be consecutive (PROTOCOL.md asks only that they
    // increase). A direct message is found by its recipient_id, a group
    // message through the member's spans of membership, so nothing is written
    // per recipient: a 1,000-member group message is one row, not 1,001.
    // `inbox` is no longer written; its group rows not yet acked stay
    // readable, so an upgrade loses nothing.
    R"sql(
CREATE INDEX messages_by_recipient ON messages(recipient_id, id)
  WHERE recipient_id IS NOT NULL;
-- The messages of group_id with after_id < id <= until_id (no upper bound
-- while until_id is NULL: a current member) belong to user_id's stream.
CREATE TABLE group_spans (
  user_id  INTEGER NOT NULL,
  group_id INTEGER NOT NULL,
  after_id INTEGER NOT NULL,
  until_id INTEGER,
  PRIMARY KEY (user_id, group_id, after_id)
) WITHOUT ROWID;
-- Today's members start after today's last message: older group messages
-- still owed to them are in the legacy inbox rows.
INSERT INTO group_spans(user_id, group_id, after_id, until_id)
  SELECT user_id, group_id, (SELECT COALESCE(MAX(id), 0) FROM messages), NULL
  FROM group_members;
-- ack_seq moves from the old per-user seqs to message ids: the id of the
-- newest message the old ack point covered (the old seqs and the ids were
-- assigned by the same single writer, so they grew together).
UPDATE users SET ack_seq = COALESCE((SELECT MAX(message_id) FROM inbox
  WHERE inbox.user_id = users.id AND inbox.seq <= users.ack_seq), 0);
-- What is left of the inbox: group messages not yet acked (direct ones are
-- found by recipient_id now).
DELETE FROM inbox WHERE message_id <= (SELECT ack_seq FROM users WHERE users.id = inbox.user_id)
  OR message_id IN (SELECT id FROM messages WHERE group_id IS NULL);
)sql",
    // Version 5: a user's direct messages are found through its
    // conversations, like a group member's: for each user who ever wrote to
    // it (direct_peers, one row per pair, written once), the range of their
    // chat key in messages_by_chat, without the user's own. A second index
    // per direct message cost the writer a B-tree insert per message and
    // each commit a page per recipient: 1:1 throughput was ~25% higher
    // without it (docs/performance.md, change 23).
    R"sql(
CREATE TABLE direct_peers (
  user_id INTEGER NOT NULL,  -- a recipient
  peer_id INTEGER NOT NULL,  -- a user who sent it a direct message
  PRIMARY KEY (user_id, peer_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO direct_peers(user_id, peer_id)
  SELECT recipient_id, sender_id FROM messages WHERE recipient_id IS NOT NULL;
DROP INDEX messages_by_recipient;
)sql",
    // Version 6: messages without AUTOINCREMENT. It made every insert read
    // and rewrite the messages row of sqlite_sequence, and every commit write
    // that table's page to the WAL once more; 1:1 throughput was ~4% higher
    // without it (docs/performance.md, change 27). Ids stay strictly
    // increasing without it: a rowid is one more than the largest, and
    // messages are never deleted. An id can be given out again only after
    // its row was never made durable (a rolled-back savepoint, or a commit
    // lost with its unsynced WAL frames) — never told to anyone, which is
    // why readers stop at durableMessageId().
    R"sql(
CREATE TABLE messages_v6 (
  id           INTEGER PRIMARY KEY,
  chat         TEXT NOT NULL,
  sender_id    INTEGER NOT NULL,
  recipient_id INTEGER,
  group_id     INTEGER,
  body         TEXT NOT NULL,
  ts           INTEGER NOT NULL
);
INSERT INTO messages_v6(id, chat, sender_id, recipient_id, group_id, body, ts)
  SELECT id, chat, sender_id, recipient_id, group_id, body, ts FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v6 RENAME TO messages;
CREATE INDEX messages_by_chat ON messages(chat, id);
DELETE FROM sqlite_sequence WHERE name = 'messages';
)sql",
    // Version 7: the chat index carries the sender. A reader's stream skips
    // its own messages in each conversation (version 5); with sender_id in
    // the index that test needs no table row, so a user who sent 200,000
    // messages since its peer last answered costs an index scan (~12 ms) at
    // a replay or at the writer's cold newest-seq lookup, not a row lookup
    // per message (~100 ms). The entry grows by the sender's varint, 1-3 bytes; the
    // rebuild at upgrade takes ~1.3 s per million messages.
    R"sql(
DROP INDEX messages_by_chat;
CREATE INDEX messages_by_chat ON messages(chat, id, sender_id);
)sql",
};

}  // namespace parley::sqlite_schema
