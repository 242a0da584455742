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
};

}  // namespace parley::mysql_schema
