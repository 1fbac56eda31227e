/*
 * The line editor behind HMP and the guest console.  Input is processed
 * one byte at a time through a small state machine (normal, after ESC,
 * inside ESC [ or ESC O), so escape sequences may arrive split across
 * reads and a whole command may arrive in one.  After each byte the
 * terminal is brought up to date by comparing the line with what was last
 * drawn, which gives the same bytes QEMU's monitor sends: clients that
 * parse QEMU's echo see the same thing here.
 */
#include "vm/readline.h"

#include <string.h>

typedef enum {
    RL_NORMAL,
    RL_ESC, /* after ESC */
    RL_CSI, /* after ESC [ */
    RL_SS3, /* after ESC O */
    RL__MAX,
} RLState;

#define RL_ESC_PARAM_MAX 8

struct VMReadline {
    char *prompt;
    VMReadlineOutput output;
    VMReadlineLine line_cb;
    VMReadlineComplete complete;
    void *opaque;

    char line[VM_READLINE_LINE_MAX + 1];
    size_t len, cursor;
    /* What the terminal shows after the prompt, and where its cursor is. */
    char shown[VM_READLINE_LINE_MAX + 1];
    size_t shown_len, shown_cursor;

    RLState state;
    char esc_param[RL_ESC_PARAM_MAX];
    size_t esc_len;
    bool after_cr;

    GPtrArray *history; /* char *, oldest first */
    int hist_pos;       /* -1 when not browsing */
};

static void out(VMReadline *rl, const char *s, size_t len)
{
    if (len) {
        rl->output(rl->opaque, s, len);
    }
}

static void outs(VMReadline *rl, const char *s)
{
    out(rl, s, strlen(s));
}

static void repeat(VMReadline *rl, const char *seq, size_t n)
{
    g_autoptr(GString) s = g_string_new(NULL);

    while (n--) {
        g_string_append(s, seq);
    }
    out(rl, s->str, s->len);
}

VMReadline *vm_readline_new(const char *prompt, VMReadlineOutput output,
                            VMReadlineLine line, void *opaque)
{
    VMReadline *rl = g_new0(VMReadline, 1);

    rl->prompt = g_strdup(prompt);
    rl->output = output;
    rl->line_cb = line;
    rl->opaque = opaque;
    rl->history = g_ptr_array_new_with_free_func(g_free);
    rl->hist_pos = -1;
    return rl;
}

void vm_readline_free(VMReadline *rl)
{
    if (!rl) {
        return;
    }
    g_ptr_array_unref(rl->history);
    g_free(rl->prompt);
    g_free(rl);
}

void vm_readline_set_completion(VMReadline *rl, VMReadlineComplete complete)
{
    rl->complete = complete;
}

const char *vm_readline_get_line(VMReadline *rl)
{
    rl->line[rl->len] = '\0';
    return rl->line;
}

size_t vm_readline_get_cursor(VMReadline *rl)
{
    return rl->cursor;
}

const char *vm_readline_get_history(VMReadline *rl, unsigned index)
{
    return index < rl->history->len ? g_ptr_array_index(rl->history, index)
                                    : NULL;
}

/* Bring the terminal up to date with the line and the cursor. */
static void update(VMReadline *rl)
{
    if (rl->len != rl->shown_len || memcmp(rl->line, rl->shown, rl->len)) {
        repeat(rl, "\033[D", rl->shown_cursor);
        out(rl, rl->line, rl->len);
        outs(rl, "\033[K");
        memcpy(rl->shown, rl->line, rl->len);
        rl->shown_len = rl->len;
        rl->shown_cursor = rl->len;
    }
    if (rl->cursor > rl->shown_cursor) {
        repeat(rl, "\033[C", rl->cursor - rl->shown_cursor);
    } else if (rl->cursor < rl->shown_cursor) {
        repeat(rl, "\033[D", rl->shown_cursor - rl->cursor);
    }
    rl->shown_cursor = rl->cursor;
}

void vm_readline_show_prompt(VMReadline *rl)
{
    outs(rl, rl->prompt);
    rl->shown_len = 0;
    rl->shown_cursor = 0;
    update(rl);
}

static void insert(VMReadline *rl, const char *s, size_t n)
{
    if (n > VM_READLINE_LINE_MAX - rl->len) {
        n = VM_READLINE_LINE_MAX - rl->len;
    }
    memmove(rl->line + rl->cursor + n, rl->line + rl->cursor,
            rl->len - rl->cursor);
    memcpy(rl->line + rl->cursor, s, n);
    rl->len += n;
    rl->cursor += n;
}

/* Remove [from, to) from the line and put the cursor at @from. */
static void delete_range(VMReadline *rl, size_t from, size_t to)
{
    memmove(rl->line + from, rl->line + to, rl->len - to);
    rl->len -= to - from;
    rl->cursor = from;
}

static void set_line(VMReadline *rl, const char *s)
{
    size_t n = strlen(s);

    if (n > VM_READLINE_LINE_MAX) {
        n = VM_READLINE_LINE_MAX;
    }
    memcpy(rl->line, s, n);
    rl->len = rl->cursor = n;
}

static void history_add(VMReadline *rl, const char *line)
{
    if (!*line) {
        return;
    }
    /* A repeated command moves to the end rather than appearing twice. */
    for (guint i = 0; i < rl->history->len; i++) {
        if (g_str_equal(g_ptr_array_index(rl->history, i), line)) {
            g_ptr_array_remove_index(rl->history, i);
            break;
        }
    }
    if (rl->history->len == VM_READLINE_HISTORY_MAX) {
        g_ptr_array_remove_index(rl->history, 0);
    }
    g_ptr_array_add(rl->history, g_strdup(line));
}

static void history_up(VMReadline *rl)
{
    if (!rl->history->len) {
        return;
    }
    if (rl->hist_pos < 0) {
        rl->hist_pos = rl->history->len - 1;
    } else if (rl->hist_pos > 0) {
        rl->hist_pos--;
    }
    set_line(rl, g_ptr_array_index(rl->history, rl->hist_pos));
}

static void history_down(VMReadline *rl)
{
    if (rl->hist_pos < 0) {
        return;
    }
    if ((guint)rl->hist_pos + 1 < rl->history->len) {
        rl->hist_pos++;
        set_line(rl, g_ptr_array_index(rl->history, rl->hist_pos));
    } else {
        rl->hist_pos = -1;
        set_line(rl, "");
    }
}

static void enter(VMReadline *rl)
{
    g_autofree char *line = g_strndup(rl->line, rl->len);

    history_add(rl, line);
    rl->hist_pos = -1;
    rl->len = rl->cursor = 0;
    outs(rl, "\r\n");
    rl->shown_len = rl->shown_cursor = 0;
    rl->line_cb(rl->opaque, line);
}

static void complete(VMReadline *rl)
{
    g_autoptr(GPtrArray) matches = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *before = g_strndup(rl->line, rl->cursor);
    size_t word = rl->cursor;

    if (!rl->complete) {
        return;
    }
    rl->complete(rl->opaque, before, matches);
    while (word > 0 && rl->line[word - 1] != ' ') {
        word--;
    }
    if (matches->len == 1) {
        const char *m = g_ptr_array_index(matches, 0);

        delete_range(rl, word, rl->cursor);
        insert(rl, m, strlen(m));
        insert(rl, " ", 1);
    } else if (matches->len > 1) {
        outs(rl, "\r\n");
        for (guint i = 0; i < matches->len; i++) {
            const char *m = g_ptr_array_index(matches, i);
            g_autofree char *cell = g_strdup_printf("%-32s ", m);

            outs(rl, cell);
            if (i % 2 == 1 || i + 1 == matches->len) {
                outs(rl, "\r\n");
            }
        }
        vm_readline_show_prompt(rl);
    }
}

static void handle_normal(VMReadline *rl, uint8_t c)
{
    switch (c) {
    case '\r':
    case '\n':
        enter(rl);
        return;
    case 1: /* Ctrl-A */
        rl->cursor = 0;
        break;
    case 4: /* Ctrl-D */
        if (rl->cursor < rl->len) {
            delete_range(rl, rl->cursor, rl->cursor + 1);
        }
        break;
    case 5: /* Ctrl-E */
        rl->cursor = rl->len;
        break;
    case 8:
    case 127: /* Backspace */
        if (rl->cursor > 0) {
            delete_range(rl, rl->cursor - 1, rl->cursor);
        }
        break;
    case 9: /* Tab */
        complete(rl);
        break;
    case 11: /* Ctrl-K */
        rl->len = rl->cursor;
        break;
    case 12: /* Ctrl-L */
        outs(rl, "\033[2J\033[1;1H");
        vm_readline_show_prompt(rl);
        return;
    case 21: /* Ctrl-U */
        delete_range(rl, 0, rl->cursor);
        break;
    case 23: { /* Ctrl-W */
        size_t from = rl->cursor;

        while (from > 0 && rl->line[from - 1] == ' ') {
            from--;
        }
        while (from > 0 && rl->line[from - 1] != ' ') {
            from--;
        }
        delete_range(rl, from, rl->cursor);
        break;
    }
    case 27: /* ESC */
        rl->state = RL_ESC;
        return;
    default:
        if (c >= 32) {
            char ch = (char)c;

            insert(rl, &ch, 1);
        }
        break;
    }
    update(rl);
}

static void handle_csi_final(VMReadline *rl, uint8_t c)
{
    int param = 0;

    for (size_t i = 0; i < rl->esc_len; i++) {
        if (!g_ascii_isdigit(rl->esc_param[i])) {
            return; /* "1;5C" and the like: not ours */
        }
        param = param * 10 + (rl->esc_param[i] - '0');
    }
    switch (c) {
    case 'A':
        history_up(rl);
        break;
    case 'B':
        history_down(rl);
        break;
    case 'C':
        if (rl->cursor < rl->len) {
            rl->cursor++;
        }
        break;
    case 'D':
        if (rl->cursor > 0) {
            rl->cursor--;
        }
        break;
    case 'H':
        rl->cursor = 0;
        break;
    case 'F':
        rl->cursor = rl->len;
        break;
    case '~':
        if (param == 1 || param == 7) {
            rl->cursor = 0;
        } else if (param == 4 || param == 8) {
            rl->cursor = rl->len;
        } else if (param == 3 && rl->cursor < rl->len) {
            delete_range(rl, rl->cursor, rl->cursor + 1);
        }
        break;
    default:
        break;
    }
    update(rl);
}

static void handle_byte(VMReadline *rl, uint8_t c)
{
    bool was_cr = rl->after_cr;

    rl->after_cr = false;
    switch (rl->state) {
    case RL_NORMAL:
        if (c == '\n' && was_cr) {
            return;
        }
        rl->after_cr = c == '\r';
        handle_normal(rl, c);
        return;
    case RL_ESC:
        rl->esc_len = 0;
        rl->state = c == '[' ? RL_CSI : c == 'O' ? RL_SS3 : RL_NORMAL;
        return;
    case RL_SS3:
        rl->state = RL_NORMAL;
        if (c == 'H' || c == 'F') {
            rl->cursor = c == 'H' ? 0 : rl->len;
            update(rl);
        }
        return;
    case RL_CSI:
        if (c >= 0x30 && c <= 0x3f) { /* parameter bytes */
            if (rl->esc_len == RL_ESC_PARAM_MAX) {
                rl->state = RL_NORMAL; /* too long: abandon */
                return;
            }
            rl->esc_param[rl->esc_len++] = (char)c;
            return;
        }
        rl->state = RL_NORMAL;
        if (c >= 0x40 && c <= 0x7e) {
            handle_csi_final(rl, c);
        }
        return;
    default:
        g_assert_not_reached();
    }
}

void vm_readline_feed(VMReadline *rl, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        handle_byte(rl, buf[i]);
    }
}

/* ---- State for migration ---------------------------------------------- */

static void put_be32(GByteArray *out, uint32_t v)
{
    uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

    g_byte_array_append(out, b, 4);
}

static void put_bytes(GByteArray *out, const void *p, size_t n)
{
    put_be32(out, (uint32_t)n);
    g_byte_array_append(out, p, (guint)n);
}

void vm_readline_save(VMReadline *rl, GByteArray *out)
{
    uint8_t small[2] = { rl->state, rl->after_cr };

    put_bytes(out, rl->line, rl->len);
    put_be32(out, (uint32_t)rl->cursor);
    g_byte_array_append(out, small, 2);
    put_bytes(out, rl->esc_param, rl->esc_len);
    put_be32(out, rl->history->len);
    for (guint i = 0; i < rl->history->len; i++) {
        const char *h = g_ptr_array_index(rl->history, i);

        put_bytes(out, h, strlen(h));
    }
}

/* A length-prefixed field of at most @max bytes, without NUL bytes. */
static bool get_text(QUtilWire *w, size_t max, const uint8_t **p, size_t *n)
{
    uint32_t len;

    if (!qutil_wire_get_be32(w, &len) || len > max ||
        !qutil_wire_get_span(w, p, len)) {
        return false;
    }
    *n = len;
    return memchr(*p, '\0', len) == NULL;
}

bool vm_readline_restore(VMReadline *rl, QUtilWire *w)
{
    g_autoptr(GPtrArray) history = g_ptr_array_new_with_free_func(g_free);
    const uint8_t *line, *esc, *h;
    size_t line_len, esc_len, h_len;
    uint32_t cursor, count;
    uint8_t state, after_cr;

    if (!get_text(w, VM_READLINE_LINE_MAX, &line, &line_len) ||
        !qutil_wire_get_be32(w, &cursor) || cursor > line_len ||
        !qutil_wire_get_u8(w, &state) || state >= RL__MAX ||
        !qutil_wire_get_u8(w, &after_cr) || after_cr > 1 ||
        !get_text(w, RL_ESC_PARAM_MAX, &esc, &esc_len) ||
        !qutil_wire_get_be32(w, &count) || count > VM_READLINE_HISTORY_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!get_text(w, VM_READLINE_LINE_MAX, &h, &h_len) || !h_len) {
            return false;
        }
        g_ptr_array_add(history, g_strndup((const char *)h, h_len));
    }
    memcpy(rl->line, line, line_len);
    rl->len = line_len;
    rl->cursor = cursor;
    rl->state = state;
    rl->after_cr = after_cr;
    memcpy(rl->esc_param, esc, esc_len);
    rl->esc_len = esc_len;
    g_ptr_array_unref(rl->history);
    rl->history = g_steal_pointer(&history);
    rl->hist_pos = -1;
    /* The terminal on the other side shows nothing yet. */
    rl->shown_len = rl->shown_cursor = 0;
    return true;
}
