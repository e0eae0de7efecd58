/*
 * fw.h - the firmware's state (one struct, all of its RAM besides the stack)
 * and the internal API between its modules:
 *
 *   fw_link.c   the link over the board's byte stream: pumping, channel-0
 *               protocol messages, the host store on channel 1, control on 2
 *   fw_table.c  the device's `reading` table: last-writer-wins, bounded
 *   fw_state.c  the trusted state record (owner, device key, sequence, clock)
 *   fw_app.c    boot, provisioning, ticks, sync
 */
#ifndef EVOLU_FW_H
#define EVOLU_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/device_port.h"
#include "evolu/link.h"
#include "evolu/owner.h"
#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "evolu/source.h"
#include "evolu/stream_store.h"
#include "evolu/timestamp.h"

/* --- sizes (the RAM budget: peak RAM <= 16,384 B, see docs/firmware.md;
 * tests/scripts/test_firmware.sh fails a run over it); each can be set with -D --- */
/* The link's MTU on the device (the proxy's is 512; each side sends at most
 * the smaller one): every frame-sized buffer below is this small. */
#ifndef FW_MTU
#define FW_MTU 256u
#endif
#define FW_CHUNK (FW_MTU - 1u) /* data bytes of one CHUNK of a protocol message */
#ifndef FW_SEND_CHUNK
#define FW_SEND_CHUNK 128u     /* CHUNKs the device sends (its messages are small) */
#endif
#ifndef FW_LINK_SLOTS
#define FW_LINK_SLOTS 2u       /* send window */
#endif
#ifndef FW_LINK_CREDIT
#define FW_LINK_CREDIT 2u      /* frames the host may send ahead */
#endif
/* Largest protocol message received: the protocol's 1,000,000 bytes. It is
 * never in RAM: its chunks go to a host blob as they arrive (FW_RXQ chunks
 * queued at most: the link's credit) and the handler reads it back through
 * a FW_WINDOW-byte window. */
#ifndef FW_RX_MAX
#define FW_RX_MAX EVOLU_PROTOCOL_MAX_SIZE
#endif
#define FW_RXQ FW_LINK_CREDIT
#ifndef FW_WINDOW
#define FW_WINDOW (EVOLU_MSG_SREADER_SLICES * 32u)
#endif
#ifndef FW_MSGS
/* Message descriptors per reply: a reply holds at most FW_REPLY_MAX (1,328)
 * bytes and an EncryptedDbChange with its timestamp is never below ~81 B
 * (the smallest padded plaintext, 36 B, + nonce, length and tag), so 16
 * are never the limit. */
#define FW_MSGS 16u
#endif
#ifndef FW_RANGES
/* Range descriptors per reply: a split alone adds 16; more than this many
 * fails the round with EVOLU_E_CAPACITY, so it stays where it was. */
#define FW_RANGES 24u
#endif
/* A reply the device builds stays within what its arena holds: the changes
 * (at most the message's size) plus the engine's record per Timestamps range.
 * What does not fit follows in the next round (evolu_client_config.total_max). */
#ifndef FW_REPLY_MAX
#define FW_REPLY_MAX (FW_ARENA - FW_RANGES * EVOLU_RBSR_ARENA_PER_RANGE)
#endif
#ifndef FW_PLAIN_MAX
#define FW_PLAIN_MAX 1024u         /* largest decrypted DbChange (decrypted in place) */
#endif
#ifndef FW_CHANGE_MAX
#define FW_CHANGE_MAX (FW_PLAIN_MAX + 128u) /* an EncryptedDbChange written or received */
#endif
/* The builder's arena: the engine's record per range plus a reply that can
 * carry the largest change the device stores (below), so every change it
 * holds can be sent: a stored change no reply of the device can carry would
 * stop its sync with a relay that lacks it (a fresh or a second relay). */
#ifndef FW_ARENA
#define FW_ARENA                                                                                 \
    ((FW_RANGES * EVOLU_RBSR_ARENA_PER_RANGE + FW_CHANGE_MAX + EVOLU_MSG_CHANGE_OVERHEAD_MAX + 7u) & \
     ~7u)
#endif
#ifndef FW_TEXT_SCRATCH
#define FW_TEXT_SCRATCH FW_PLAIN_MAX /* a column's derived text while it is checked */
#endif
#ifndef FW_ROWS
#define FW_ROWS 22u                /* rows of the reading table */
#endif
#ifndef FW_TEXT_MAX
#define FW_TEXT_MAX 16u            /* bytes of a text/bytes cell (>= 8: a number) */
#endif
#ifndef FW_ARGS_MAX
#define FW_ARGS_MAX 320u
#endif
#ifndef FW_LINE_MAX
#define FW_LINE_MAX 224u           /* a report line: "evolu-fw: row " + a row (<= 206) */
#endif

/* One cell: its value and the timestamp that wrote it (LWW). Byte-aligned
 * (no padding): a number is kept as its 8 bytes in data; a text or bytes
 * value longer than FW_TEXT_MAX is not held (kind FW_KIND_NOT_HELD, its
 * length as a u32 in data), but its timestamp is, for last-writer-wins. */
#define FW_KIND_NOT_HELD 0xFEu
typedef struct fw_cell {
    uint8_t ts[EVOLU_TIMESTAMP_BYTES]; /* all zero: never written */
    uint8_t kind;                      /* evolu_value_kind */
    uint8_t len;                       /* text/bytes length */
    uint8_t data[FW_TEXT_MAX];         /* text/bytes, or a number's 8 bytes */
} fw_cell;
_Static_assert(FW_TEXT_MAX >= sizeof(double) && FW_TEXT_MAX <= 255, "FW_TEXT_MAX: 8..255");
_Static_assert(FW_MTU >= 64u && FW_MTU <= EVOLU_LINK_MTU, "FW_MTU: 64..EVOLU_LINK_MTU");
_Static_assert(FW_ARENA > FW_RANGES * EVOLU_RBSR_ARENA_PER_RANGE + 1024u,
               "FW_ARENA must hold the range records and a reply");
/* What the device receives and stores it must be able to send again: a reply
 * of FW_REPLY_MAX bytes carries a change of up to FW_REPLY_MAX -
 * EVOLU_MSG_CHANGE_OVERHEAD_MAX bytes (evolu_msg_size_change_max); a larger
 * stored change would make every sync with a relay that lacks it fail with
 * EVOLU_E_LIMIT, for good. */
_Static_assert(FW_REPLY_MAX >= FW_CHANGE_MAX + EVOLU_MSG_CHANGE_OVERHEAD_MAX,
               "the device must be able to send every change it stores");
_Static_assert(FW_CHANGE_MAX + FW_TEXT_SCRATCH <= FW_ARENA,
               "the change buffers share the arena");

enum { FW_COL_VALUE = 0, FW_COL_NOTE = 1, FW_NCOLS = 2 };

/* A row: id, the two cells and isDeleted (only a flag and its timestamp). */
typedef struct fw_row {
    uint8_t id[EVOLU_ID_BYTES];
    fw_cell cell[FW_NCOLS];
    uint8_t del_ts[EVOLU_TIMESTAMP_BYTES]; /* all zero: never written */
    uint8_t deleted;
} fw_row;

/* A bounded view: the device's data is its stream store on the host, which
 * keeps and syncs every change. Once FW_ROWS rows are held, a change to any
 * other row is counted in changes_not_held and not shown (never applied
 * partly: the device cannot know that row's cell timestamps). Rows are never
 * dropped, so a row not held never becomes held later in a run. */
typedef struct fw_table {
    fw_row rows[FW_ROWS];
    size_t n;
    uint32_t not_held;         /* cells whose value is longer than FW_TEXT_MAX */
    uint32_t changes_not_held; /* changes of rows the full table does not hold */
    bool changed;              /* since the last report */
} fw_table;

/* The parsed arguments; the text itself is in evolu_fw.argbuf (boot only). */
typedef struct fw_args {
    char *owner_keys; /* points into argbuf (NUL-terminated); wiped once read */
    bool mnemonic_given; /* refused: the device takes owner_keys */
    uint32_t ticks, period_ms, idle_ticks, sync_timeout_ms;
} fw_args;

typedef struct evolu_fw {
    const evolu_device_port *dp;
    evolu_port port; /* crypto from dp->crypto, random and now_ms from dp */
    fw_args args;

    /* trusted state */
    evolu_owner owner;
    evolu_timestamp clock; /* the HLC */
    evolu_stream_trusted trusted;

    /* link */
    evolu_link link;
    uint8_t slots[FW_LINK_SLOTS * EVOLU_LINK_SLOT_BYTES(FW_MTU)];
    uint8_t rxframe[EVOLU_LINK_HEADER + FW_MTU + EVOLU_LINK_CRC];
    /* A frame on its way out, and before that every payload being encoded:
     * a payload is encoded only when the send window has room, handed to
     * evolu_link_send (which copies it into a slot) and then the buffer
     * serves flush_out again. */
    uint8_t wire[EVOLU_LINK_WIRE_SIZE(FW_MTU)];
    uint8_t inbuf[32];
    size_t in_pos, in_len; /* input not fed to the link yet (see fw_pump) */
    uint32_t link_resets;
    bool closed; /* the byte stream is gone for good */
    /* channel 1: the reply to the one outstanding request, read where the
     * link decoded it (rxframe): fw_pump stops feeding input once it came */
    const uint8_t *reply;
    size_t reply_len;
    bool reply_ready;
    uint16_t req_id;
    /* channel 0: the message being received, put into a host blob (key
     * FW_RX_KEY) as it arrives; a chunk's credit is granted once it is put */
    evolu_link_msg_rx mrx;
    uint16_t rxq_len[FW_RXQ];
    uint32_t rxq_off[FW_RXQ];
    unsigned rxq_head, rxq_n;
    size_t rxq_done;                    /* bytes of the head chunk already put */
    uint16_t rx_gen;                    /* the message's puts carry it in their id */
    uint32_t rx_total, rx_puts_pending;
    bool rx_active, rx_complete, rx_put_failed;
    size_t rx_len;
    bool rx_ready, rx_busy, rx_discard;
    bool store_busy; /* a merge puts blobs: the host assembles one at a time */
    uint32_t rx_dropped, rx_largest;
    uint64_t rd_pos; /* the change the batch over rd handed out last */
    /* Phase-shared: the received chunks queued for their blob (rxq, while a
     * message arrives), the reader of a received message (rd + window, while
     * it is handled) and the argument text (boot, before the link is up).
     * A message is handled only when all its chunks were put (rxq empty),
     * and while it is handled new chunks are dropped, not queued. */
    union {
        uint8_t rxq[FW_RXQ][FW_CHUNK];
        struct {
            evolu_msg_sreader rd;
            uint8_t window[FW_WINDOW];
        };
        char argbuf[FW_ARGS_MAX];
    };
    /* channel 2 */
    bool relay_up, relay_came_up;
    /* outstanding protocol requests (answers still expected) */
    uint32_t outstanding;

    /* host store and sync */
    evolu_stream_host host;
    evolu_stream_store store;
    evolu_store table_store; /* the stream store's table, write_messages wrapped */
    evolu_store stream_table;
    evolu_msg_builder builder;
    evolu_msg_entry msgs[FW_MSGS];
    evolu_range_entry ranges[FW_RANGES];
    /* Phase-shared (saves FW_CHANGE_MAX + FW_TEXT_SCRATCH): the builder's
     * arena holds the changes of a reply while it is built and sent; the two
     * buffers of one change serve encrypting a reading, decrypting a received
     * or cached change (in place) and the table's column scratch. Never live together:
     * a push references `change` and is sent before any reply is built; a
     * received message's changes are applied (step 4) before its ranges are
     * answered into the arena (step 8); boot reads a cached change into
     * `change`, not the arena. */
    union {
        uint8_t arena[FW_ARENA];
        struct {
            uint8_t change[FW_CHANGE_MAX]; /* decrypted in place */
            uint8_t text[FW_TEXT_SCRATCH];
        };
    };
    uint8_t chunkbuf[FW_SEND_CHUNK]; /* a sent message, one chunk at a time */
    uint32_t readings_written, messages_applied, syncs;

    fw_table table;
    char line[FW_LINE_MAX];
    size_t line_len;
} evolu_fw;

/* --- fw_link.c ---------------------------------------------------------------- */
void fw_link_init(evolu_fw *fw);
/* Moves bytes both ways and handles what arrived; waits up to wait_ms for
 * input when there is nothing to do. */
void fw_pump(evolu_fw *fw, uint32_t wait_ms);
/* Sends the message built in b on channel 0 (BEGIN / CHUNKs / END), emitted
 * piece by piece: only one chunk of it is ever in RAM. */
evolu_err fw_msg_send_built(evolu_fw *fw, const evolu_msg_builder *b);
/* The host store (evolu_stream_host) over channel 1. */
void fw_host_table(evolu_fw *fw, evolu_stream_host *out);
/* The last message received (rx_ready), read from its host blob. */
void fw_rx_source(evolu_fw *fw, evolu_source *out);

/* --- fw_table.c --------------------------------------------------------------- */
/* Checks that a decrypted change can be applied (a reading change whose
 * columns can be read); other tables and columns are ignored. A cell longer
 * than FW_TEXT_MAX, a derived text beyond text_cap and a JSON value beyond
 * the device's JSON limits are fine: not held (see fw_cell), and so is a row
 * beyond FW_ROWS (see fw_table): nothing is refused for the table's size. */
evolu_err fw_table_check(const evolu_dbchange_view *v, uint8_t *text, size_t text_cap);
/* Applies a checked change last-writer-wins; a change of a row the full
 * table does not hold is counted (changes_not_held), not applied. */
evolu_err fw_table_apply(fw_table *t, const evolu_dbchange_view *v, uint8_t *text,
                         size_t text_cap);
/* Writes row i (in id order) as the JSON object of `evolu query` into out. */
size_t fw_table_row_json(const fw_table *t, size_t i, char *out, size_t cap);
size_t fw_table_visible(const fw_table *t);

/* --- fw_state.c --------------------------------------------------------------- */
evolu_err fw_state_load(evolu_fw *fw);
/* Saves the owner, the HLC clock and the stream store's trusted state t
 * (the store passes the NEW state before it adopts it: save exactly t). */
evolu_err fw_state_save(evolu_fw *fw, const evolu_stream_trusted *t);

/* --- fw_app.c ----------------------------------------------------------------- */
/* Report lines: fw_line starts "evolu-fw: " + s, fw_add* append (cut at the
 * line buffer, never overflowing), fw_emit sends it. */
void fw_line(evolu_fw *fw, const char *s);
void fw_add(evolu_fw *fw, const char *s);
void fw_addn(evolu_fw *fw, const char *s, size_t n);
void fw_addu(evolu_fw *fw, uint64_t v);
void fw_emit(evolu_fw *fw);
/* "evolu-fw: error <what> <EVOLU_E_...>" */
void fw_error(evolu_fw *fw, const char *what, evolu_err e);

#endif
