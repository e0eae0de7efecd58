/*
 * evolu/link.h - the link between a device and its host over any byte stream
 * (USB CDC on an STM32U5, the UART under QEMU). docs/link.md has the bytes.
 *
 * Three layers, each usable alone, all freestanding and allocation-free:
 *
 *  1. Frames (link_frame.c). A frame is a 10-byte header, up to
 *     EVOLU_LINK_MTU payload bytes and a CRC-32C, COBS-encoded and delimited by
 *     0x00 bytes. COBS removes every 0x00 from the body, so a receiver that
 *     lost its place (garbage, a dropped or inserted byte) is back in step at
 *     the next 0x00; the CRC and the length field reject the damaged frame.
 *     The decoder takes arbitrary chunks (one byte at a time works), keeps O(1)
 *     state plus a caller buffer of EVOLU_LINK_FRAME_MAX bytes, and never
 *     holds more than one frame.
 *
 *  2. The endpoint (link.c): a reliable, ordered, flow-controlled channel on a
 *     lossy line. A session handshake (HELLO) so a reboot of either side is
 *     noticed; sequence numbers with cumulative acks; go-back-N retransmission
 *     of unacknowledged frames after a timeout driven by the caller's clock;
 *     credit (the receiver grants an absolute sequence limit) so a sender never
 *     overruns a receiver that consumes slowly. Sans I/O: the caller feeds
 *     received bytes in and polls frames out.
 *
 *  3. Messages (link_msg.c): what the frames carry. Channel 0 carries Evolu
 *     protocol messages of any size as BEGIN(total) / CHUNK... / END(crc), so
 *     neither side holds a whole 1,000,000-byte message; channel 1 carries the
 *     host-store requests (index read/write-begin/append/commit, blob put/get)
 *     and their replies with status codes.
 */
#ifndef EVOLU_LINK_H
#define EVOLU_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest payload of one frame. 512 keeps a frame (526 raw, 531 on the wire)
 * well inside a device's buffers and one USB full-speed transfer series; both
 * ends announce theirs in HELLO and send at most the smaller one. */
#ifndef EVOLU_LINK_MTU
#define EVOLU_LINK_MTU 512
#endif
#define EVOLU_LINK_HEADER 10 /* type, chan, seq, ack, limit, len */
#define EVOLU_LINK_CRC 4     /* CRC-32C, little-endian */
/* Raw (unstuffed) frame: the decoder's buffer must hold this much. */
#define EVOLU_LINK_FRAME_MAX (EVOLU_LINK_HEADER + EVOLU_LINK_MTU + EVOLU_LINK_CRC)
/* Bytes on the wire for a payload of n bytes, worst case: a leading and a
 * trailing 0x00, one COBS code byte per 254 raw bytes (and one to start). */
#define EVOLU_LINK_WIRE_SIZE(n)                                                 \
    (2u + 1u + (EVOLU_LINK_HEADER + (n) + EVOLU_LINK_CRC) +                     \
     (EVOLU_LINK_HEADER + (n) + EVOLU_LINK_CRC) / 254u)
#define EVOLU_LINK_WIRE_MAX EVOLU_LINK_WIRE_SIZE(EVOLU_LINK_MTU)

/* Frame types. HELLO and ACK are unsequenced control frames; DATA is numbered,
 * acknowledged and retransmitted. */
#define EVOLU_LINK_HELLO 0x01
#define EVOLU_LINK_ACK 0x02
#define EVOLU_LINK_DATA 0x03
/* ACK flag (in the chan byte): "answer with an ACK now" (a credit probe). */
#define EVOLU_LINK_ACK_PROBE 0x01

/* Channels of DATA frames. */
#define EVOLU_LINK_CH_PROTOCOL 0 /* Evolu protocol messages (link_msg) */
#define EVOLU_LINK_CH_STORE 1    /* host-store requests and replies */
#define EVOLU_LINK_CH_CONTROL 2  /* reserved for the host proxy's own control */

/* --- CRC-32C ---------------------------------------------------------------- */

/* CRC-32C (Castagnoli: poly 0x1EDC6F41 reflected, init and xorout 0xFFFFFFFF);
 * "123456789" -> 0xE3069283. Incremental: start with crc = 0 and pass the
 * previous result back in. */
uint32_t evolu_crc32c(uint32_t crc, const uint8_t *p, size_t n);

/* --- frames ----------------------------------------------------------------- */

typedef struct evolu_link_frame {
    uint8_t type;  /* EVOLU_LINK_HELLO / ACK / DATA */
    uint8_t chan;  /* DATA: channel; ACK: flags; HELLO: 0 */
    uint16_t seq;  /* DATA: sequence number; otherwise 0 */
    uint16_t ack;  /* next DATA seq the sender of this frame expects */
    uint16_t limit; /* the peer may send DATA with seq < limit (credit) */
    uint16_t len;  /* payload bytes, <= EVOLU_LINK_MTU */
    const uint8_t *payload;
} evolu_link_frame;

/* Writes f as 00 COBS(header | payload | crc) 00 into out. *n gets the byte
 * count. EVOLU_E_LIMIT if f->len > EVOLU_LINK_MTU, EVOLU_E_BUFFER if cap <
 * EVOLU_LINK_WIRE_SIZE(f->len) (checked up front, so nothing is half-written),
 * EVOLU_E_ARG for an unknown type. */
evolu_err evolu_link_frame_encode(const evolu_link_frame *f, uint8_t *out, size_t cap,
                                  size_t *n);

/* The streaming decoder: O(1) state plus the caller's buffer. */
typedef struct evolu_link_decoder {
    uint8_t *buf;
    size_t cap;
    size_t len;     /* raw bytes of the current frame so far */
    uint8_t left;   /* bytes left in the current COBS block */
    uint8_t code;   /* the current block's code byte (0: none yet) */
    bool overflow;  /* the current frame outgrew buf: drop it at the 0x00 */
} evolu_link_decoder;

/* buf must hold EVOLU_LINK_FRAME_MAX bytes (a smaller one only rejects larger
 * frames as EVOLU_E_LIMIT). */
void evolu_link_decoder_init(evolu_link_decoder *d, uint8_t *buf, size_t cap);

/* Consumes input up to and including the next frame delimiter; *used says how
 * many bytes were consumed (call again with the rest). Returns
 *   EVOLU_OK        a checked frame in *f; f->payload points into the decoder's
 *                   buffer and is valid until the next call;
 *   EVOLU_E_DONE    all input consumed, no frame finished yet;
 *   an error        the frame just ended was bad and is dropped; decoding goes
 *                   on with the next byte: EVOLU_E_CHECKSUM (CRC mismatch),
 *                   EVOLU_E_LIMIT (longer than the buffer), EVOLU_E_TRUNCATED
 *                   (shorter than a header and CRC, or a COBS block cut short),
 *                   EVOLU_E_INVALID (length field disagrees, unknown type).
 * Empty frames (consecutive 0x00) are skipped silently. */
evolu_err evolu_link_decode(evolu_link_decoder *d, const uint8_t *in, size_t n, size_t *used,
                            evolu_link_frame *f);

/* --- the endpoint ----------------------------------------------------------- */

/* Bytes of caller storage per transmit slot (one unacknowledged frame) of an
 * endpoint whose cfg.mtu is m; EVOLU_LINK_SLOT_SIZE for the full MTU (cfg.mtu
 * 0). An endpoint never sends more than its own MTU either, so a device with a
 * small cfg.mtu needs only small slots. */
#define EVOLU_LINK_SLOT_BYTES(m) (3u + (size_t)(m))
#define EVOLU_LINK_SLOT_SIZE EVOLU_LINK_SLOT_BYTES(EVOLU_LINK_MTU)
/* Most slots (the send window) an endpoint uses. */
#define EVOLU_LINK_MAX_SLOTS 64u

typedef struct evolu_link_config {
    uint32_t rto_ms;     /* first retransmit timeout (e.g. 200 on a UART) */
    uint32_t rto_max_ms; /* backoff doubles the timeout up to this */
    uint16_t rx_credit;  /* DATA frames the receiver accepts before it grants more */
    uint16_t mtu;        /* payload this end accepts and sends, <= EVOLU_LINK_MTU (0: the max) */
} evolu_link_config;

/* Counters for tests and diagnostics; they only ever grow. */
typedef struct evolu_link_stats {
    uint32_t frames_in, frames_out;  /* good frames decoded / frames produced */
    uint32_t bad_crc, bad_frame;     /* CHECKSUM / TRUNCATED, LIMIT, INVALID */
    uint32_t delivered;              /* DATA payloads handed to the caller */
    uint32_t duplicates;             /* DATA already delivered (a retransmit) */
    uint32_t out_of_order;           /* DATA after a gap (dropped, go-back-N) */
    uint32_t overruns;               /* DATA beyond the granted limit (dropped) */
    uint32_t retransmits;            /* timeouts that rewound the send window */
    uint32_t probes;                 /* credit probes sent */
    uint32_t resets;                 /* sessions (re)established */
} evolu_link_stats;

typedef struct evolu_link {
    evolu_link_config cfg;
    evolu_link_decoder dec;
    uint8_t *slots;                  /* nslots * EVOLU_LINK_SLOT_BYTES(cfg.mtu), caller's */
    uint16_t nslots;
    /* session */
    uint32_t session, peer_session;  /* ours (nonzero), the peer's (0: unknown) */
    bool connected, hello_due;
    uint16_t peer_mtu;
    uint32_t hello_time;
    /* sending */
    uint16_t tx_base, tx_send, tx_next, peer_limit;
    uint32_t tx_time, rto, probe_time;
    /* receiving */
    uint16_t rx_next, rx_limit;
    bool ack_due, started;
    evolu_link_stats stats;
} evolu_link;

typedef enum evolu_link_event_kind {
    EVOLU_LINK_EV_NONE = 0,
    EVOLU_LINK_EV_DATA,      /* a DATA payload, in order, exactly once */
    EVOLU_LINK_EV_CONNECTED  /* a new session: the peer (re)started; anything in
                                flight before is gone, restart upper protocols */
} evolu_link_event_kind;

typedef struct evolu_link_event {
    evolu_link_event_kind kind;
    uint8_t chan;
    uint16_t len;
    const uint8_t *payload;  /* valid until the next evolu_link_input call */
} evolu_link_event;

/* session: a nonzero value new at every start (random or a boot counter); the
 * peer resets its side when it sees a new one. slots: nslots (1..64) transmit
 * slots of EVOLU_LINK_SLOT_BYTES(cfg->mtu) bytes (EVOLU_LINK_SLOT_SIZE for the
 * full MTU); rxbuf: EVOLU_LINK_HEADER + cfg->mtu + EVOLU_LINK_CRC bytes
 * (EVOLU_LINK_FRAME_MAX for the full MTU). */
evolu_err evolu_link_init(evolu_link *l, const evolu_link_config *cfg, uint32_t session,
                          uint8_t *slots, uint16_t nslots, uint8_t *rxbuf, size_t rxcap);

/* Feeds received bytes. Returns EVOLU_OK with *ev filled when something
 * happened (then call again with in + *used), EVOLU_E_DONE when all input was
 * consumed. Bad frames are counted in stats and skipped; they never stop the
 * link. */
evolu_err evolu_link_input(evolu_link *l, const uint8_t *in, size_t n, uint32_t now_ms,
                           size_t *used, evolu_link_event *ev);

/* Produces the next frame to transmit into out (cap >=
 * EVOLU_LINK_WIRE_SIZE(cfg.mtu), EVOLU_LINK_WIRE_MAX for the full MTU, else
 * EVOLU_E_BUFFER and nothing changes), *n = 0 when nothing is due. Call until *n == 0 after every input and send
 * and whenever the clock advances: handshakes, retransmits after the timeout,
 * new data within the peer's credit, acks and credit probes come from here. */
evolu_err evolu_link_poll(evolu_link *l, uint32_t now_ms, uint8_t *out, size_t cap, size_t *n);

/* Milliseconds from now until evolu_link_poll has something to do on its own
 * (a retransmission, a HELLO or a probe), 0 if it has something now, and
 * UINT32_MAX if only new input or a send can give it work: a device can sleep
 * (wfi with a timer) this long between bytes. */
uint32_t evolu_link_timeout(const evolu_link *l, uint32_t now_ms);

/* Queues one DATA payload (copied into a slot). EVOLU_E_STATE before the
 * session is up, EVOLU_E_CAPACITY when every slot holds an unacknowledged
 * frame (try again after input), EVOLU_E_LIMIT if len exceeds the peer's MTU. */
evolu_err evolu_link_send(evolu_link *l, uint8_t chan, const uint8_t *p, size_t len);

/* How many more payloads evolu_link_send accepts now (0 when not connected). */
size_t evolu_link_send_room(const evolu_link *l);

/* True when everything sent was acknowledged. */
bool evolu_link_idle(const evolu_link *l);

/* The receiver consumed n delivered payloads and has room for n more: the
 * peer may send n frames further (announced with the next frame out). A new
 * session (EVOLU_LINK_EV_CONNECTED) starts again from cfg.rx_credit: drop
 * payloads still queued from the old session without granting for them. */
void evolu_link_grant(evolu_link *l, uint16_t n);

/* Largest payload evolu_link_send accepts now: the smaller of the two MTUs
 * (ours, cfg.mtu, and the one the peer announced). */
size_t evolu_link_mtu(const evolu_link *l);

/* --- messages on channel 0: a protocol message of any size -------------------- */

#define EVOLU_LINK_MSG_BEGIN 0x01 /* u32 total length */
#define EVOLU_LINK_MSG_CHUNK 0x02 /* the next bytes */
#define EVOLU_LINK_MSG_END 0x03   /* u32 CRC-32C of the whole message */
#define EVOLU_LINK_MSG_ABORT 0x04 /* the sender gave up; drop what arrived */
/* Data bytes per CHUNK payload at the full MTU. */
#define EVOLU_LINK_MSG_CHUNK_MAX (EVOLU_LINK_MTU - 1u)

/* Sending: begin, then chunks adding up to total, then end. Each call writes
 * one payload into out (cap >= 5, or 1 + data for a chunk) and returns its
 * length, or 0 on a misuse (chunk beyond total, end before total, small cap). */
typedef struct evolu_link_msg_tx {
    uint32_t total, sent, crc;
    bool open;
} evolu_link_msg_tx;
size_t evolu_link_msg_begin(evolu_link_msg_tx *t, uint32_t total, uint8_t *out, size_t cap);
size_t evolu_link_msg_chunk(evolu_link_msg_tx *t, const uint8_t *p, size_t n, uint8_t *out,
                            size_t cap);
size_t evolu_link_msg_end(evolu_link_msg_tx *t, uint8_t *out, size_t cap);
size_t evolu_link_msg_abort(evolu_link_msg_tx *t, uint8_t *out, size_t cap);

/* Receiving: feed each channel-0 payload; the result says what it was. */
typedef struct evolu_link_msg_rx {
    uint32_t max_total; /* refuse larger messages (EVOLU_E_LIMIT) */
    uint32_t total, got, crc;
    bool open;
} evolu_link_msg_rx;

typedef enum evolu_link_msg_kind {
    EVOLU_LINK_MSG_NONE = 0,
    EVOLU_LINK_MSG_STARTED,  /* a message of `total` bytes begins */
    EVOLU_LINK_MSG_DATA,     /* `n` bytes at `offset` */
    EVOLU_LINK_MSG_COMPLETE, /* all bytes arrived and the CRC matches */
    EVOLU_LINK_MSG_ABORTED   /* the sender abandoned the message */
} evolu_link_msg_kind;

typedef struct evolu_link_msg_part {
    evolu_link_msg_kind kind;
    uint32_t total, offset;
    const uint8_t *data;
    size_t n;
} evolu_link_msg_part;

void evolu_link_msg_rx_init(evolu_link_msg_rx *r, uint32_t max_total);
/* Errors drop the message in progress (the next BEGIN starts afresh):
 * EVOLU_E_STATE (CHUNK/END without BEGIN, BEGIN inside a message),
 * EVOLU_E_LIMIT (total > max_total, or more bytes than total),
 * EVOLU_E_TRUNCATED (END before total bytes, short payload),
 * EVOLU_E_CHECKSUM (END's CRC differs), EVOLU_E_INVALID (unknown kind). */
evolu_err evolu_link_msg_feed(evolu_link_msg_rx *r, const uint8_t *p, size_t n,
                              evolu_link_msg_part *out);

/* --- host-store requests on channel 1 ---------------------------------------- */

/* Requests (a reply has the same op with 0x80 set). */
#define EVOLU_LINK_ST_INDEX_READ 0x01   /* u32 offset, u16 max -> u32 size, bytes
                                           (no index yet: size 0) */
#define EVOLU_LINK_ST_INDEX_BEGIN 0x02  /* start a new index (atomic replace) */
#define EVOLU_LINK_ST_INDEX_APPEND 0x03 /* bytes appended to the new index */
#define EVOLU_LINK_ST_INDEX_COMMIT 0x04 /* the new index replaces the old one */
#define EVOLU_LINK_ST_BLOB_PUT 0x05     /* key, u32 offset, u32 total, bytes */
#define EVOLU_LINK_ST_BLOB_GET 0x06     /* key, u32 offset, u16 max -> u32 size, bytes */
#define EVOLU_LINK_ST_INDEX_ABORT 0x07  /* drop the new index, keep the old one */
#define EVOLU_LINK_ST_REPLY 0x80
#define EVOLU_LINK_ST_KEY_MAX 32

/* Reply status codes. */
#define EVOLU_LINK_ST_OK 0
#define EVOLU_LINK_ST_NOT_FOUND 1   /* no such blob */
#define EVOLU_LINK_ST_RANGE 2       /* offset beyond the end, or a gap */
#define EVOLU_LINK_ST_IO 3          /* the host's storage failed */
#define EVOLU_LINK_ST_BAD_REQUEST 4 /* malformed request */
#define EVOLU_LINK_ST_SEQUENCE 5    /* APPEND/COMMIT/ABORT without BEGIN */
#define EVOLU_LINK_ST_NO_SPACE 6    /* the host's storage is full */

/* One request or reply; which fields count depends on op (see docs/link.md). */
typedef struct evolu_link_store_msg {
    uint8_t op;       /* request op, | EVOLU_LINK_ST_REPLY for a reply */
    uint8_t status;   /* replies */
    uint16_t id;      /* chosen by the device, echoed by the host */
    uint8_t key_len;  /* BLOB_*: 1..EVOLU_LINK_ST_KEY_MAX (a timestamp is 16) */
    const uint8_t *key;
    uint32_t offset;  /* INDEX_READ, BLOB_PUT, BLOB_GET requests */
    uint32_t size;    /* INDEX_READ/BLOB_GET: max bytes (request), object size
                         (reply); BLOB_PUT: the blob's total size */
    const uint8_t *data; /* INDEX_APPEND, BLOB_PUT requests; READ/GET replies */
    size_t data_len;
} evolu_link_store_msg;

/* Writes m as one channel-1 payload; *n gets its length. EVOLU_E_ARG for an
 * unknown op or bad key length, EVOLU_E_LIMIT for a max over 65535,
 * EVOLU_E_BUFFER if it does not fit cap. */
evolu_err evolu_link_store_encode(const evolu_link_store_msg *m, uint8_t *out, size_t cap,
                                  size_t *n);
/* Parses one channel-1 payload; key and data point into p. EVOLU_E_TRUNCATED,
 * EVOLU_E_TRAILING, EVOLU_E_INVALID (unknown op, bad key length, unknown
 * status, data where none belongs). */
evolu_err evolu_link_store_decode(const uint8_t *p, size_t n, evolu_link_store_msg *m);

#ifdef __cplusplus
}
#endif
#endif
