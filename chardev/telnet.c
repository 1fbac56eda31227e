/*
 * The telnet command filter of socket chardevs (see telnet.h).  It works
 * in place: the write index never passes the read index, so no second
 * buffer is needed and the output is never longer than the input.
 */
#include "chardev/telnet.h"

const uint8_t chardev_telnet_init[12] = {
    CHARDEV_TELNET_IAC, CHARDEV_TELNET_WILL, 1, /* ECHO */
    CHARDEV_TELNET_IAC, CHARDEV_TELNET_WILL, 3, /* SUPPRESS-GO-AHEAD */
    CHARDEV_TELNET_IAC, CHARDEV_TELNET_WILL, 0, /* BINARY */
    CHARDEV_TELNET_IAC, CHARDEV_TELNET_DO,   0, /* BINARY */
};

size_t chardev_telnet_filter(ChardevTelnet *tn, uint8_t *buf, size_t len,
                             unsigned *breaks)
{
    size_t out = 0;

    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];

        switch (tn->state) {
        case CHARDEV_TELNET_DATA:
            if (c == CHARDEV_TELNET_IAC) {
                tn->state = CHARDEV_TELNET_CMD;
            } else {
                buf[out++] = c;
            }
            break;
        case CHARDEV_TELNET_CMD:
            tn->state = CHARDEV_TELNET_DATA;
            if (c == CHARDEV_TELNET_IAC) {
                buf[out++] = c;
            } else if (c >= CHARDEV_TELNET_WILL) {
                tn->state = CHARDEV_TELNET_OPT;
            } else if (c == CHARDEV_TELNET_SB) {
                tn->state = CHARDEV_TELNET_SUB;
            } else if (c == CHARDEV_TELNET_BREAK) {
                (*breaks)++;
            }
            break;
        case CHARDEV_TELNET_OPT:
            tn->state = CHARDEV_TELNET_DATA;
            break;
        case CHARDEV_TELNET_SUB:
            if (c == CHARDEV_TELNET_IAC) {
                tn->state = CHARDEV_TELNET_SUBIAC;
            }
            break;
        case CHARDEV_TELNET_SUBIAC:
            /* IAC SE ends it; IAC IAC is an escaped 255 inside it. */
            tn->state = c == CHARDEV_TELNET_SE ? CHARDEV_TELNET_DATA
                                               : CHARDEV_TELNET_SUB;
            break;
        }
    }
    return out;
}
