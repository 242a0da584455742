// The MySQL/MariaDB schema, by version: the same model as sqlite_schema.h in
// this dialect (InnoDB, utf8mb4, case-insensitive names through the
// default _general_ci collation). Each version is a list of statements.
#pragma once

#include <vector>

namespace parley::mysql_schema {

inline const std::vector<std::vector<const char*>> kMigrations = {
    {
        // Version 1.
        "CREATE TABLE users ("
        " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " name VARCHAR(32) NOT NULL,"
        " password_hash VARCHAR(255) NOT NULL,"
        " last_seq BIGINT NOT NULL DEFAULT 0,"
        " ack_seq BIGINT NOT NULL DEFAULT 0,"
        " created_ms BIGINT NOT NULL,"
        " UNIQUE KEY users_name (name)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        "CREATE TABLE friendships ("
        " user_id BIGINT NOT NULL, friend_id BIGINT NOT NULL, created_ms BIGINT NOT NULL,"
        " PRIMARY KEY (user_id, friend_id)"
        ") ENGINE=InnoDB",
        "CREATE TABLE chat_groups ("
        " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " name VARCHAR(32) NOT NULL,"
        " description VARCHAR(800) NOT NULL DEFAULT '',"
        " created_ms BIGINT NOT NULL,"
        " UNIQUE KEY chat_groups_name (name)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        "CREATE TABLE group_members ("
        " group_id BIGINT NOT NULL, user_id BIGINT NOT NULL,"
        " role VARCHAR(16) NOT NULL, joined_ms BIGINT NOT NULL,"
        " PRIMARY KEY (group_id, user_id), KEY group_members_by_user (user_id, group_id)"
        ") ENGINE=InnoDB",
        "CREATE TABLE messages ("
        " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " chat VARCHAR(48) NOT NULL,"
        " sender_id BIGINT NOT NULL, recipient_id BIGINT NULL, group_id BIGINT NULL,"
        " body TEXT NOT NULL, ts BIGINT NOT NULL,"
        " KEY messages_by_chat (chat, id)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        "CREATE TABLE inbox ("
        " user_id BIGINT NOT NULL, seq BIGINT NOT NULL, message_id BIGINT NOT NULL,"
        " PRIMARY KEY (user_id, seq), KEY inbox_by_message (message_id)"
        ") ENGINE=InnoDB",
        "CREATE TABLE tokens ("
        " token_hash CHAR(64) NOT NULL PRIMARY KEY, user_id BIGINT NOT NULL,"
        " expires_ms BIGINT NOT NULL"
        ") ENGINE=InnoDB",
    },
    {
        // Version 2: expired tokens are purged at login, oldest first.
        "CREATE INDEX tokens_by_expiry ON tokens (expires_ms)",
    },
    {
        // Version 3: a 1:1 message is stored by one CALL, one round trip,
        // where its statements and COMMIT were four, each a pool thread put
        // to sleep until MariaDB answered. The procedure commits itself and
        // answers only after the COMMIT, so what it returns is durable; any
        // error rolls it back first. Parameters name their character set: a
        // routine's default is the database's. It answers one row (message
        // id, recipient's seq), or (0, 0) when the recipient does not exist
        // (nothing stored). The UPDATE's row lock makes it the one writer of
        // the recipient's seq: seqs commit in order and without gaps. (A
        // group message keeps its transaction of statements: as a procedure
        // it measured slower, docs/scaling.md.)
        "CREATE PROCEDURE parley_append_direct("
        " IN p_chat VARCHAR(48) CHARACTER SET utf8mb4, IN p_from BIGINT, IN p_to BIGINT,"
        " IN p_body TEXT CHARACTER SET utf8mb4, IN p_ts BIGINT)"
        " MODIFIES SQL DATA"
        " BEGIN"
        "  DECLARE v_id, v_seq BIGINT;"
        "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;"
        "  START TRANSACTION;"
        "  INSERT INTO messages(chat, sender_id, recipient_id, body, ts)"
        "   VALUES (p_chat, p_from, p_to, p_body, p_ts);"
        "  SET v_id = LAST_INSERT_ID();"
        "  UPDATE users SET last_seq = LAST_INSERT_ID(last_seq + 1) WHERE id = p_to;"
        "  IF ROW_COUNT() = 0 THEN"
        "   ROLLBACK;"
        "   SELECT 0, 0;"
        "  ELSE"
        "   SET v_seq = LAST_INSERT_ID();"
        "   INSERT INTO inbox(user_id, seq, message_id) VALUES (p_to, v_seq, v_id);"
        "   COMMIT;"
        "   SELECT v_id, v_seq;"
        "  END IF;"
        " END",
    },
};

}  // namespace parley::mysql_schema
