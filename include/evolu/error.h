/*
 * evolu/error.h - the one error enum of evolu-c.
 *
 * Errors are values (as in SQLite and tinycbor): every fallible function returns
 * an evolu_err, EVOLU_OK (0) on success. Codes are grouped in bands by layer so a
 * caller can tell "my buffer was too small" from "the peer sent garbage" from
 * "the relay refused the write" without parsing strings. Codes are stable: new
 * ones are appended inside their band, never renumbered.
 */
#ifndef EVOLU_ERROR_H
#define EVOLU_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message). Kept as one list so evolu_strerror() cannot drift. */
#define EVOLU_ERRORS(X)                                                            \
    X(EVOLU_OK, 0, "ok")                                                           \
    /* 1..19: caller and resource errors */                                        \
    X(EVOLU_E_ARG, 1, "invalid argument")                                          \
    X(EVOLU_E_BUFFER, 2, "output buffer too small")                                \
    X(EVOLU_E_CAPACITY, 3, "caller-provided capacity exhausted")                   \
    X(EVOLU_E_LIMIT, 4, "a configured size limit would be exceeded")               \
    X(EVOLU_E_STATE, 5, "operation not valid in the current state")                \
    X(EVOLU_E_DONE, 6, "no more items")                                            \
    X(EVOLU_E_STORAGE, 7, "storage (database) operation failed")                   \
    X(EVOLU_E_NOMEM, 8, "out of memory")                                           \
    /* 20..49: decoding (bad input from a peer) */                                 \
    X(EVOLU_E_TRUNCATED, 20, "input ended prematurely")                            \
    X(EVOLU_E_VARINT, 21, "varint is unterminated or not a safe integer")          \
    X(EVOLU_E_TRAILING, 22, "unexpected bytes after the value")                    \
    X(EVOLU_E_VALUE_TYPE, 23, "invalid column value type")                         \
    X(EVOLU_E_MSGPACK, 24, "unsupported or malformed MessagePack")                 \
    X(EVOLU_E_JSON, 25, "invalid JSON")                                            \
    X(EVOLU_E_NESTING, 26, "nesting too deep")                                     \
    X(EVOLU_E_DATE, 27, "invalid date")                                            \
    X(EVOLU_E_NUMBER, 28, "number not allowed here (non-finite or out of range)")  \
    X(EVOLU_E_MILLIS, 29, "timestamp millis out of range")                         \
    X(EVOLU_E_COUNTER, 30, "timestamp counter out of range")                       \
    X(EVOLU_E_RUN_LENGTH, 31, "invalid run length in a timestamp list")            \
    X(EVOLU_E_ORDER, 32, "timestamps not sorted by millis")                        \
    X(EVOLU_E_RANGE_TYPE, 33, "unknown range type")                                \
    X(EVOLU_E_RANGES, 34, "invalid range sequence")                                \
    X(EVOLU_E_BASE64URL, 35, "invalid Base64Url")                                  \
    X(EVOLU_E_ID, 36, "invalid Id")                                                \
    X(EVOLU_E_INVALID, 37, "malformed data")                                       \
    X(EVOLU_E_SYSTEM_COLUMN, 38, "values contain a system column name")            \
    X(EVOLU_E_UTF8, 39, "invalid UTF-8")                                           \
    X(EVOLU_E_CHECKSUM, 40, "checksum mismatch (corrupted frame or message)")      \
    /* 50..69: protocol */                                                         \
    X(EVOLU_E_VERSION, 50, "protocol version mismatch")                            \
    X(EVOLU_E_MESSAGE_TYPE, 51, "unexpected protocol message type")                \
    X(EVOLU_E_ERROR_CODE, 52, "unknown protocol error code")                       \
    X(EVOLU_E_WRITE_KEY, 53, "relay refused the write key")                        \
    X(EVOLU_E_WRITE, 54, "relay failed to write")                                  \
    X(EVOLU_E_QUOTA, 55, "relay quota exceeded")                                   \
    X(EVOLU_E_SYNC, 56, "relay failed during sync")                                \
    X(EVOLU_E_OWNER, 57, "message is for another owner")                           \
    /* 70..79: clock */                                                            \
    X(EVOLU_E_CLOCK_DRIFT, 70, "timestamp drifts too far into the future")         \
    X(EVOLU_E_CLOCK_OVERFLOW, 71, "timestamp counter overflow")                    \
    X(EVOLU_E_CLOCK_RANGE, 72, "clock time out of range")                          \
    /* 80..89: cryptography */                                                     \
    X(EVOLU_E_DECRYPT, 80, "decryption failed (wrong key or tampered data)")       \
    X(EVOLU_E_TIMESTAMP_MISMATCH, 81, "encrypted timestamp differs from the wire") \
    X(EVOLU_E_CRYPTO, 82, "cryptographic primitive failed")                        \
    X(EVOLU_E_STREAM_TAMPERED, 83, "stream store data fails authentication")       \
    X(EVOLU_E_STREAM_REPLAY, 84, "stream store index is older than the device state") \
    X(EVOLU_E_STREAM_TRUNCATED, 85, "stream store index is truncated")             \
    X(EVOLU_E_STREAM_ORDER, 86, "stream store chunk is out of place")              \
    /* 90..99: owners */                                                           \
    X(EVOLU_E_MNEMONIC_WORD, 90, "mnemonic has an unknown word")                   \
    X(EVOLU_E_MNEMONIC_LENGTH, 91, "mnemonic must have 12, 15, 18, 21 or 24 words") \
    X(EVOLU_E_MNEMONIC_CHECKSUM, 92, "mnemonic checksum does not match")          \
    /* 100..109: network transport */                                              \
    X(EVOLU_E_CONNECT, 100, "cannot connect to the relay")                         \
    X(EVOLU_E_CLOSED, 101, "connection to the relay was lost")                     \
    X(EVOLU_E_TIMEOUT, 102, "timed out")                                           \
    X(EVOLU_E_URL, 103, "invalid relay URL")

typedef enum evolu_err {
#define EVOLU_ERR_ENUM_(name, value, msg) name = value,
    EVOLU_ERRORS(EVOLU_ERR_ENUM_)
#undef EVOLU_ERR_ENUM_
} evolu_err;

/* A short English description of e; never NULL ("unknown error" for others). */
const char *evolu_strerror(evolu_err e);

/* The enumerator's name, e.g. "EVOLU_E_TRUNCATED"; never NULL. */
const char *evolu_errname(evolu_err e);

#ifdef __cplusplus
}
#endif
#endif
