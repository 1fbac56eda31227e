/*
 * The telnet side of -chardev socket,...,telnet=on (RFC 854), as QEMU
 * does it: on connect the chardev offers character-at-a-time binary mode
 * (IAC WILL ECHO, IAC WILL SUPPRESS-GO-AHEAD, IAC WILL BINARY, IAC DO
 * BINARY) and from then on removes commands from what the peer sends.
 * Replies to those offers are consumed, not answered.
 *
 * The filter is a byte-at-a-time state machine, so a command split across
 * reads is handled and nothing is buffered: IAC IAC is a data byte 255,
 * IAC WILL/WONT/DO/DONT OPT is dropped, IAC SB ... IAC SE is dropped
 * whatever its length, IAC BREAK is reported as a break, and any other
 * two-byte command (NOP, GA, IP...) is dropped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHARDEV_TELNET_IAC   255
#define CHARDEV_TELNET_DONT  254
#define CHARDEV_TELNET_DO    253
#define CHARDEV_TELNET_WONT  252
#define CHARDEV_TELNET_WILL  251
#define CHARDEV_TELNET_SB    250
#define CHARDEV_TELNET_BREAK 243
#define CHARDEV_TELNET_SE    240

/* What the chardev sends when a peer connects. */
extern const uint8_t chardev_telnet_init[12];

typedef enum {
    CHARDEV_TELNET_DATA,   /* plain data */
    CHARDEV_TELNET_CMD,    /* after IAC */
    CHARDEV_TELNET_OPT,    /* after IAC WILL/WONT/DO/DONT */
    CHARDEV_TELNET_SUB,    /* inside IAC SB ... */
    CHARDEV_TELNET_SUBIAC, /* IAC inside a subnegotiation */
} ChardevTelnetState;

typedef struct {
    ChardevTelnetState state;
} ChardevTelnet;

/*
 * Filter @len bytes of @buf in place; returns how many data bytes remain
 * at the start of @buf.  *@breaks is increased by the number of IAC
 * BREAK seen (the caller reports each).
 */
size_t chardev_telnet_filter(ChardevTelnet *tn, uint8_t *buf, size_t len,
                             unsigned *breaks);
